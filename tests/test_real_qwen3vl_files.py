"""The real Qwen3-VL-4B-Instruct release files (tokenizer, chat template, processor configs) with
random weights, loaded through `load_backbone` as a user would, then encoded, probed, trained and
answered: on the CPU for a shrunk configuration that keeps the real vocabulary and special-token
ids, and on a GPU (`-m gpu`) for the release's own 4B configuration.

The tiny demo models use the project's own small tokenizer and template; this is the one place
where the files a user downloads are exercised. They are read from ``../shared/reference`` (or
where ``FIXATE_QWEN3VL_RELEASE`` points); nothing is copied into the repository.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from model_fixtures import make_samples
from PIL import Image
from transformers import AutoConfig, Qwen3VLForConditionalGeneration

from fixate.evaluate import answer_scores
from fixate.models import Screen, load_backbone
from fixate.models.tiny import TINY_MROPE_SECTION, TINY_QWEN_VISION, TINY_TEXT
from fixate.train import TrainConfig, run

# the release files beside this checkout, or wherever FIXATE_QWEN3VL_RELEASE names
RELEASE = Path(
    os.environ.get(
        "FIXATE_QWEN3VL_RELEASE",
        Path(__file__).resolve().parents[2] / "shared/reference/checkpoints/Qwen3-VL-4B-Instruct",
    )
)
INSTRUCTION = "Which one? {candidates}"
pytest_plugins = ["model_fixtures"]


def release_copy(folder: Path) -> Path:
    """The release's files (not its model card) copied into ``folder``, as a download holds
    them; skips the test where they are not available."""
    if not (RELEASE / "vocab.json").exists():
        pytest.skip("the Qwen3-VL release files are not next to this checkout")
    folder.mkdir(parents=True, exist_ok=True)
    for file in RELEASE.iterdir():
        if file.name != "MODEL_CARD.md":
            shutil.copyfile(file, folder / file.name)  # not the read-only mode of a shared copy
    return folder


@pytest.fixture(scope="module")
def real_files(tmp_path_factory) -> Path:
    """The release folder with a shrunk config.json and random weights beside its own files."""
    folder = release_copy(tmp_path_factory.mktemp("qwen3vl-real"))
    config = json.loads((RELEASE / "config.json").read_text())
    config["text_config"].update(TINY_TEXT)  # the real vocabulary and token ids stay
    config["text_config"]["rope_scaling"]["mrope_section"] = TINY_MROPE_SECTION
    config["vision_config"].update(TINY_QWEN_VISION, out_hidden_size=TINY_TEXT["hidden_size"])
    (folder / "config.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    Qwen3VLForConditionalGeneration(AutoConfig.from_pretrained(folder)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def backbone(real_files):
    return load_backbone(real_files, "qwen3vl", device="cpu")


def screen(size=(1920, 1080), names=("A", "B"), answer=None) -> Screen:
    boxes = np.asarray([[20 + 120 * i, 20, 120 + 120 * i, 120] for i in range(len(names))])
    image = Image.new("RGB", size, (30, 30, 30))
    return Screen(image, boxes.astype(np.float32), tuple(names), "Top_genre: Drama", answer)


def test_the_real_vocabulary_and_special_tokens_are_kept(backbone):
    release = json.loads((RELEASE / "config.json").read_text())
    assert backbone.model.config.text_config.vocab_size == 151936
    assert backbone.image_token_id == release["image_token_id"] == 151655
    ids = backbone.tokenizer.convert_tokens_to_ids(["<|vision_start|>", "<|vision_end|>"])
    assert ids == [release["vision_start_token_id"], release["vision_end_token_id"]]


def test_the_real_chat_template_puts_the_soft_prompt_and_the_image_in_the_user_turn(backbone):
    text = backbone.chat_text(screen(), 16, INSTRUCTION)
    user_turn = text.split("<|im_start|>user\n", 1)[1].split("<|im_end|>", 1)[0]
    filler = backbone.filler_token * 16
    assert user_turn.startswith(filler + "<|vision_start|><|image_pad|><|vision_end|>")
    assert user_turn.endswith("Top_genre: Drama\n\nWhich one? A, B")
    assert text.endswith("<|im_start|>assistant\n")


def test_the_real_processor_sizes_and_m_rope_positions(backbone):
    batch = backbone.encode([screen()], 16, INSTRUCTION)
    visual = batch.image_mask[0]
    assert int(visual.sum()) == 646  # 1920 x 1080 -> 1100 x 619 -> a 19 x 34 merged grid
    assert int(batch.soft_mask[0].sum()) == 16
    positions = batch.position_ids[:, 0]  # text row, then t, h, w
    assert positions.shape[0] == 4
    grid = positions[1:, visual]
    assert [len(set(axis.tolist())) for axis in grid] == [1, 19, 34]
    after = visual.nonzero()[-1].item() + 1
    assert (positions[1:, after] == grid.max() + 1).all()  # text resumes after the image
    tiny = backbone.encode_screen(screen(size=(40, 40)), 0, INSTRUCTION)
    assert int((tiny.ids == backbone.image_token_id).sum()) == 64  # the 65,536 px minimum


def test_letters_are_single_tokens_and_numbers_past_nine_are_scored_as_sequences(backbone):
    letters = [backbone.answer_ids(letter) for letter in "ABCDEFGHIJKLMNO"]
    assert all(len(ids) == 1 for ids in letters) and len({ids[0] for ids in letters}) == 15
    assert [len(backbone.answer_ids(str(n))) for n in (1, 9, 10, 12)] == [1, 1, 2, 2]
    names = tuple(str(n) for n in range(1, 13))
    numbered = screen(size=(1600, 200), names=names)
    encodings = [backbone.encode_screen(numbered, 4, INSTRUCTION)] * 2
    batch = backbone.collate(encodings)
    soft = torch.randn(2, 4, backbone.hidden_size)  # two users
    with torch.no_grad():
        features = backbone.image_features(batch)
    _, scores = answer_scores(backbone, [names] * 2, encodings, batch, soft, features)
    assert scores.shape == (12,) and np.isfinite(scores).all()
    assert scores[11] < scores[:9].max()  # two tokens' log-probability, not one
    # batched across screens, the sequence scores equal a teacher-forced pass of each name alone
    for name in ("10", "12"):
        answered = backbone.encode([replace(numbered, answer=name)], 4, INSTRUCTION)
        with torch.no_grad():
            logits = backbone.run(answered, soft[1:]).logits[0].float()
        ids = answered.answer_ids[0]
        expected = torch.log_softmax(logits, -1)[torch.arange(len(ids)), ids].sum()
        assert scores[int(name) - 1] == pytest.approx(float(expected), abs=1e-4)


def train_and_test(model_dir: Path, folder: Path, window: int | None) -> None:
    """`fixate.train.run` (the `train` job's code) on a few small screens: one epoch of
    `attnlrp` training, validation, the four-way test; losses finite, answers among the
    screens' letters."""
    shards = make_samples(folder / "data", users=("u1", "u2"), per_split=(2, 1, 1))
    config = TrainConfig.from_dict(
        {
            "epochs": 1,
            "batch_size": 2,
            "grad_accum": 1,
            "n_basis": 2,
            "n_tokens": 4,
            "lambda_warmup": 0,
            "probe": {"operator": "attnlrp", "window": window},
        }
    )
    metrics = run(shards, model_dir, "qwen3vl", config, 1, folder / "run", "toy")
    log = pd.read_csv(folder / "run" / "train_log.csv")
    assert np.isfinite(log["alignment"]).all() and np.isfinite(log["choice"]).all()
    assert 0 <= metrics["modes"]["fixate_fg"]["micro_answer_accuracy"] <= 1
    answers = pd.read_parquet(folder / "run" / "per_sample.parquet")["answer"].dropna()
    assert set(answers) <= set("ABCDEFGHIJ")


def test_training_and_the_four_way_test_run_on_the_real_files(real_files, tmp_path):
    train_and_test(real_files, tmp_path, window=2)


@pytest.mark.gpu
def test_the_release_with_its_own_4b_configuration_trains_on_a_gpu(tmp_path):
    """The release folder as downloaded, its config.json unchanged (36 layers, hidden 2,560),
    with random bf16 weights: loaded by `load_backbone` and trained by the `train` job's code
    with the default probe window, as a user's run on the real checkpoint would be."""
    folder = release_copy(tmp_path / "qwen3vl-4b")
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen3VLForConditionalGeneration._from_config(
            AutoConfig.from_pretrained(folder), dtype=torch.bfloat16
        )
    model.save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    backbone = load_backbone(folder, "qwen3vl", device="cuda")
    assert (backbone.num_layers, backbone.hidden_size) == (36, 2560)
    assert backbone.model.dtype == torch.bfloat16
    batch = backbone.encode([screen()], 16, INSTRUCTION)
    assert int(batch.image_mask[0].sum()) == 646 and int(batch.soft_mask[0].sum()) == 16
    del backbone
    torch.cuda.empty_cache()
    train_and_test(folder, tmp_path, window=None)
    shutil.rmtree(folder)  # 8 GiB of weights: not kept among pytest's last temporary folders
