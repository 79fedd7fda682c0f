"""The screen spec of `simulate`: a good spec is read and labelled; every bad one stops with a
message naming the file and the entry, before anything is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from fixate.simulate.outputs import simulate_to_folder
from fixate.simulate.screens import ScreenSpecError, check_users, read_screens, read_spec

SIZE = (400, 200)


def good_spec() -> dict:
    return {
        "instruction": "Which one? {candidates}",
        "screens": [
            {
                "id": "page-1",
                "image": "page-1.png",
                "slots": [
                    {"label": "A", "box": [10, 10, 110, 90], "content_id": "m1", "text": "One"},
                    {"label": "B", "box": [150, 10, 250, 90]},
                    {"label": "C", "box": [290, 10, 390, 90]},
                ],
            },
            {
                "id": "page-2",
                "image": "page-2.png",
                "labelled": True,
                "instruction": "Pick {candidates}",
                "slots": [
                    {"label": "1", "box": [0, 0, 200, 100]},
                    {"label": "2", "box": [200, 100, 400, 200]},
                ],
            },
        ],
    }


def write(folder: Path, spec: dict | str) -> Path:
    for name in ("page-1.png", "page-2.png"):
        Image.new("RGB", SIZE, (40, 40, 40)).save(folder / name)
    path = folder / "screens.yaml"
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec))
    return path


def test_a_good_spec_is_read_and_unlabelled_screens_get_their_labels_drawn(tmp_path):
    screens = read_spec(write(tmp_path, good_spec()))
    first, second = screens
    assert first.screen_id == "page-1" and first.slot_names == ("A", "B", "C")
    assert first.slot_boxes.shape == (3, 4) and first.slot_boxes.dtype == np.float32
    assert first.content_ids == ("m1", None, None) and first.texts == ("One", None, None)
    assert first.instruction == "Which one? {candidates}"  # the file's, for every screen
    assert second.instruction == "Pick {candidates}"  # a screen's own wins
    plain = np.asarray(Image.open(tmp_path / "page-1.png").convert("RGB"))
    drawn = np.asarray(first.image)
    below_a = drawn[94:125, 40:80]  # the label is drawn just below box A
    assert (below_a != plain[94:125, 40:80]).any()
    assert (np.asarray(second.image) == np.asarray(Image.open(tmp_path / "page-2.png"))).all()


def bad(spec: dict, path: tuple, value) -> dict:
    """``spec`` with the entry at ``path`` replaced (or deleted when ``value`` is ...)."""
    target = spec
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return spec


BAD_SPECS = {
    "missing image": (
        ("screens", 0, "image"),
        "nowhere.png",
        r"screens\[0\] 'page-1'.*does not exist",
    ),
    "box outside the image": (
        ("screens", 0, "slots", 1, "box"),
        [150, 10, 450, 90],
        r"screens\[0\] 'page-1' slots\[1\] 'B'.*outside the 400 x 200 image",
    ),
    "box of zero size": (
        ("screens", 0, "slots", 2, "box"),
        [290, 10, 290, 90],
        r"slots\[2\] 'C'.*has no area",
    ),
    "duplicate labels": (
        ("screens", 0, "slots", 2, "label"),
        "A",
        r"screens\[0\] 'page-1'.*labels \['A'\] name more than one slot",
    ),
    "fewer than two slots": (
        ("screens", 1, "slots"),
        [{"label": "1", "box": [0, 0, 10, 10]}],
        r"screens\[1\] 'page-2'.*1 slot\(s\); a choice needs at least 2",
    ),
    "box of the wrong type": (
        ("screens", 0, "slots", 0, "box"),
        "10,10,110,90",
        r"screens\[0\]\.slots\[0\]\.box: '10,10,110,90' is not of type 'array'",
    ),
    "box with three numbers": (
        ("screens", 0, "slots", 0, "box"),
        [1, 2, 3],
        r"screens\[0\]\.slots\[0\]\.box: .*is too short",
    ),
    "label not a string": (
        ("screens", 0, "slots", 0, "label"),
        7,
        r"screens\[0\]\.slots\[0\]\.label: 7 is not of type 'string'",
    ),
    "missing slots": (("screens", 0, "slots"), ..., r"screens\[0\]: 'slots' is a required"),
    "unknown key": (("screens", 0, "colour"), "red", r"screens\[0\]: Additional properties"),
    "repeated screen id": (("screens", 1, "id"), "page-1", r"screens\[1\] 'page-1'.*used by an"),
    "no screens": (("screens",), [], r"screens: \[\] should be non-empty"),
}


@pytest.mark.parametrize("kind", sorted(BAD_SPECS))
def test_a_bad_spec_names_the_file_and_the_entry(tmp_path, kind):
    path, value, message = BAD_SPECS[kind]
    spec_file = write(tmp_path, bad(good_spec(), path, value))
    with pytest.raises(ScreenSpecError, match=message) as err:
        read_spec(spec_file)
    assert str(spec_file) in str(err.value)


def test_an_unreadable_image_is_named(tmp_path):
    spec_file = write(tmp_path, good_spec())
    (tmp_path / "page-2.png").write_bytes(b"not a png")
    with pytest.raises(ScreenSpecError, match=r"screens\[1\] 'page-2'.*page-2.png cannot be read"):
        read_spec(spec_file)


def test_a_truncated_image_is_named(tmp_path):
    spec_file = write(tmp_path, good_spec())
    whole = (tmp_path / "page-1.png").read_bytes()
    (tmp_path / "page-1.png").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ScreenSpecError, match=r"screens\[0\] 'page-1'.*page-1.png cannot be read"):
        read_spec(spec_file)


def test_a_spec_that_is_not_yaml_or_not_there(tmp_path):
    with pytest.raises(ScreenSpecError, match="not a readable YAML"):
        read_spec(write(tmp_path, "screens: [unclosed"))
    with pytest.raises(ScreenSpecError, match="no such screen spec file"):
        read_screens(tmp_path / "absent.yaml")
    empty = tmp_path / "shards"
    empty.mkdir()
    with pytest.raises(ScreenSpecError, match="no sample shards"):
        read_screens(empty)


def test_an_unknown_user_is_refused_with_the_users_known():
    with pytest.raises(ScreenSpecError, match=r"unknown users \['u9'\]; .* knows \['u1', 'u2'\]"):
        check_users(["u1", "u9"], ["u2", "u1"], "simulate run")


def test_a_bad_spec_leaves_nothing_behind(tmp_path):
    spec_file = write(tmp_path, bad(good_spec(), ("screens", 0, "slots", 2, "label"), "A"))
    out = tmp_path / "out"
    with pytest.raises(ScreenSpecError):
        simulate_to_folder(tmp_path / "no-run", spec_file, "all", out)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "page-1.png",
        "page-2.png",
        "screens.yaml",
    ]
