"""What the model is asked on an AdSERP result page (`{candidates}` becomes the page's area
numbers, e.g. "1, 2, 3"), and how a backbone sees the page: at its full width, and, if it
tiles, in at most 4 tiles."""

INSTRUCTION = (
    "You are a sophisticated user behavior emulator. Given a user profile, simulate the "
    "user's final click on this search results page. Your final answer should only output "
    "exactly one of the area numbers {candidates} shown on the selected area; do not output "
    "any other content."
)

MAX_IMAGE_WIDTH = 1280
"""AdSERP viewports (1280 x 922) are given to the backbone whole, as the reference does: Qwen3-VL
turns one into 29 x 40 = 1,160 visual tokens, where the screen-wide default of 1,100 pixels
(`fixate.models.base.MAX_IMAGE_WIDTH`, RecGaze's) would first shrink it to 1100 x 792 (850)."""

MAX_TILES = 4
"""The most tiles a tiling backbone (InternVL) cuts an AdSERP viewport into: the reference's
`max_num` for AdSERP. A 1280 x 922 viewport then gives 4 tiles and a thumbnail (1,280 visual
tokens) where the processor's own cap of 12 gives 12 and a thumbnail (3,328), with which a 4B
training step at batch 4 outgrew an H200's memory."""
