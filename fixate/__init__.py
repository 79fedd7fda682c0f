"""FixATE: align a frozen vision-language model's attention with each user's gaze."""

__version__ = "0.1.0"
