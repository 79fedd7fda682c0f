"""What the model is asked on an AdSERP result page; `{candidates}` becomes the page's area
numbers, e.g. "1, 2, 3"."""

INSTRUCTION = (
    "You are a sophisticated user behavior emulator. Given a user profile, simulate the "
    "user's final click on this search results page. Your final answer should only output "
    "exactly one of the area numbers {candidates} shown on the selected area; do not output "
    "any other content."
)
