"""Hand-written RecGaze raw folders for unit tests: every event placed on purpose."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fixate.data.recgaze.layout import GENRES, ROW_TOPS, aoi_table
from fixate.data.recgaze.raw import (
    ITEM_FEATURES_COLUMNS,
    NON_PUBLIC_COLUMNS,
    SUMMARY_COLUMNS,
    aoi_columns,
)
from fixate.data.tables import write_csv


def movie_id(task: int, row: int, pos: int) -> int:
    return 100000 + task * 1000 + row * 20 + pos


def item_features(tasks: list[int]) -> pd.DataFrame:
    rows = []
    for task in tasks:
        for r in range(1, 11):
            genre = GENRES[(r + task) % 10]
            for pos in range(1, 16):
                mid = movie_id(task, r, pos)
                record = dict.fromkeys(ITEM_FEATURES_COLUMNS, "")
                record.update(
                    TMDB_id=mid,
                    MovieID=mid,
                    TaskID=task,
                    Carousel_position=r,
                    Carousel_genre=genre,
                    Movie_position_in_carousel=pos,
                    TMDB_title=f"Film {task}-{r}-{pos}",
                    TMDB_genres=genre,
                    TMDB_poster_path=f"https://image.tmdb.org/t/p/w500/p{mid}.jpg",
                )
                rows.append(record)
    return pd.DataFrame(rows, columns=ITEM_FEATURES_COLUMNS)


@dataclass
class Session:
    """One (user, task) session; events are appended in time order."""

    user: str
    task: int
    subject: int = 1001
    scroll: float = 0.0
    rows: list[dict] = field(default_factory=list)
    np_rows: list[dict] = field(default_factory=list)
    t: float = 1.0

    def _base(self) -> dict:
        return {
            "UserID": self.user,
            "SubjectID": self.subject,
            "TaskID": self.task,
            "StimulusID": f"{self.user}_{self.task}.mp4",
            "Timestamp": f"{self.t:.3f}",
        }

    def _aoi(self, prefix: str, kind: str, row: int | None = None, pos: int | None = None) -> dict:
        out = {prefix + "type": kind}
        if row is not None:
            out[prefix + "Carousel_position"] = row
            out[prefix + "Carousel_genre"] = GENRES[(row + self.task) % 10]
        if pos is not None:
            out[prefix + "Movie_position_in_carousel"] = pos
            out[prefix + "MovieID"] = movie_id(self.task, row, pos)
        return out

    def fix(
        self,
        row: int | None,
        pos: int | None,
        dur: float = 200.0,
        kind: str = "Movie",
        closest: tuple[int, int] | None = None,
        scroll: float | None = None,
        with_scroll: bool = True,
    ) -> Session:
        if scroll is not None:
            self.scroll = scroll
        record = {
            **self._base(),
            "Fixation_Duration": dur,
            **self._aoi(
                "Fixation_AOI_",
                kind,
                row if kind != "Background" else None,
                pos if kind == "Movie" else None,
            ),
        }
        if closest is not None:
            record.update(self._aoi("Fixation_AOI_Closest_", "Movie", *closest))
        self.rows.append(record)
        y = (ROW_TOPS[row - 1] + 90) if row else self.scroll + 500
        if closest is not None:
            y = ROW_TOPS[closest[0] - 1] + 195
        self.np_rows.append(
            {**self._base(), "Fixation_Duration": dur, "Fixation_LocX": 200, "Fixation_LocY": y}
        )
        if with_scroll:
            self.np_rows.append(
                {
                    **self._base(),
                    "Timestamp": f"{self.t + 0.004:.3f}",
                    "Gaze_LocX": 200,
                    "Gaze_LocY": y - self.scroll,
                }
            )
        self.t += dur / 1000 + 0.03
        return self

    def click(
        self, kind: str, row: int | None = None, pos: int | None = None, movie: int | None = None
    ) -> Session:
        record = {**self._base(), **self._aoi("Click_AOI_", kind, row, pos)}
        if movie is not None:
            record["Click_AOI_MovieID"] = movie
        self.rows.append(record)
        self.t += 0.2
        return self

    def cursor(self, row: int, pos: int, seconds: float, kind: str = "Movie") -> Session:
        record = {
            **self._base(),
            "Cursor_Duration": seconds,
            **self._aoi("Cursor_AOI_", kind, row, pos if kind == "Movie" else None),
        }
        self.rows.append(record)
        self.t += 0.05
        return self


def write_raw(folder: Path, sessions: list[Session], users: list[str] | None = None) -> Path:
    """Write the five raw files for ``sessions`` (and users, by default those of the sessions)."""
    folder.mkdir(parents=True, exist_ok=True)
    summary = pd.DataFrame([r for s in sessions for r in s.rows], columns=SUMMARY_COLUMNS)
    non_public = pd.DataFrame([r for s in sessions for r in s.np_rows], columns=NON_PUBLIC_COLUMNS)
    write_csv(summary, folder / "summary_feedback.csv")
    write_csv(non_public, folder / "non_public_feedback_dataset.csv")
    write_csv(aoi_table(), folder / "aoi_data.csv")
    tasks = sorted({s.task for s in sessions} | {1})
    write_csv(item_features(tasks), folder / "item_features.csv")
    ids = users if users is not None else sorted({s.user for s in sessions})
    write_csv(
        pd.DataFrame({"UserID": ids, "Top_genre": "Drama", "Preferred_genres": "Drama, Crime"}),
        folder / "user_features.csv",
    )
    return folder


__all__ = ["Session", "aoi_columns", "item_features", "movie_id", "write_raw"]
