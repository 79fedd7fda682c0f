"""What the model is asked on a RecGaze screen: the reference's instruction.

`{candidates}` becomes the screen's slot names, e.g. "A, B, C, D, E". It is the backbones'
default instruction (`fixate.models.DEFAULT_INSTRUCTION`), since RecGaze is the reference's dataset.
"""

INSTRUCTION = (
    "You are a sophisticated user behavior emulator. Given a user profile, simulate the user's "
    "final selection on this movie selection interface. Your final answer should only output "
    "exactly one of the letters {candidates} shown below the selected poster; do not output any "
    "other content."
)
