"""Image-only processors that load without torchvision and behave the same on every machine.

Why: in transformers 5.x, `Qwen3VLProcessor`, `InternVLProcessor` and `AutoProcessor` insist on a
video processor, and video processors exist only on the torchvision backend; on a CPU-only torch
they cannot be built at all (huggingface/transformers #48558, #43986). `ProcessorMixin` reads the
sub-processors from the `__init__` signature, so a subclass whose `__init__` has no video processor
loads everything else from an ordinary checkpoint folder. The image processor is always the PIL
backend, so a CPU test machine and a GPU machine with torchvision feed the model identical pixels.
"""

from __future__ import annotations

from pathlib import Path

from transformers import InternVLProcessor, Qwen3VLProcessor
from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
from transformers.processing_utils import ProcessorMixin


class ImageOnlyQwen3VLProcessor(Qwen3VLProcessor):
    """`Qwen3VLProcessor` without the video processor."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        super().__init__(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=None,
            chat_template=chat_template,
            **kwargs,
        )


class ImageOnlyInternVLProcessor(InternVLProcessor):
    """`InternVLProcessor` (native -HF layout) without the video processor."""

    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        image_seq_length: int = 256,
        chat_template=None,
        **kwargs,
    ):
        super().__init__(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=None,
            image_seq_length=image_seq_length,
            chat_template=chat_template,
            **kwargs,
        )


_PROCESSORS = {
    "qwen3vl": (ImageOnlyQwen3VLProcessor, Qwen2VLImageProcessorPil),
    "internvl": (ImageOnlyInternVLProcessor, GotOcr2ImageProcessorPil),
}


def load_processor(path: str | Path, kind: str) -> ProcessorMixin:
    """Load the image-only processor of a local checkpoint folder, offline, PIL image backend.

    `AutoProcessor` must not be used on these folders: on the tiny models it silently returns only
    the tokenizer (their saved `processor_class` is the subclass) and on real ones it needs
    torchvision.
    """
    processor_cls, image_processor_cls = _PROCESSORS[kind]
    processor = processor_cls.from_pretrained(str(path), local_files_only=True)
    if not isinstance(processor.image_processor, image_processor_cls):
        processor.image_processor = image_processor_cls.from_pretrained(
            str(path), local_files_only=True
        )
    return processor
