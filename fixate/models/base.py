"""The Backbone interface and the input building every backbone shares.

One definition of the model input, used by every mode (backbone and FixATE, teacher-forced and free
generation, training and evaluation): a single user turn holding [soft prompt, image, profile +
instruction] rendered by the checkpoint's own chat template, the assistant turn opened, and the
teacher-forced answer appended as tokens. The soft prompt is N vectors that replace N filler tokens
(the tokenizer's pad token) in `inputs_embeds`; N = 0 is the plain backbone. Because the filler
tokens stay in the layout ids, Qwen3-VL's 3-D M-RoPE positions are computed from the real layout,
and with the soft vectors equal to the filler embedding the model sees exactly what a plain
`input_ids` call sees (the reference prepended the soft prompt outside the template and lost the
M-RoPE positions).

The forward pass is composed here from the model's public parts (vision features, the language
model, the LM head) rather than through the top-level `forward`, because that is the only route that
works on transformers 5.17 and 5.24 alike and still lets the probe (a) keep DeepStack features,
(b) pass the visual features as leaf tensors, (c) compute logits only where they are needed and
(d) run eager attention (which returns weights) only in the probed window of layers.
"""

from __future__ import annotations

import copy
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import ClassVar

import torch
from PIL import Image
from torch import Tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.processing_utils import ProcessorMixin

from fixate.data.recgaze.instruction import INSTRUCTION as RECGAZE_INSTRUCTION
from fixate.models.attention import ATTENTION, eager_attention
from fixate.models.records import ForwardOutput, ModelBatch, Screen, ScreenEncoding, VisualFeatures

DEFAULT_INSTRUCTION = RECGAZE_INSTRUCTION
"""What a screen is asked when no instruction is given (`fixate.data.recgaze.instruction`)."""

MAX_IMAGE_WIDTH = 1100
"""Screens wider than this are downscaled first, as in the reference (1920x1080 -> 1100x619, which
Qwen3-VL turns into 19x34 = 646 visual tokens and InternVL into 2 tiles + thumbnail)."""


PAD_MULTIPLE = 8
"""Batches are left-padded to a multiple of this many positions. Tensor-core matrix kernels need
16-byte aligned rows: with T = 836 (not a multiple of 8) the T x T products of eager and
rule-based attention ran in misaligned-operand kernels, and padding to 840 made the 4B training
step 4 % (attnlrp) and 12 % (rule-based AttnLRP) faster at batch 4 (`benchmarks/README.md`)."""


class Backbone(ABC):
    """A frozen vision-language model plus everything needed to feed it screens.

    Subclasses supply what differs between architectures: where the vision inputs live, how
    visual tokens map to image cells, the position ids, and the vision features.
    """

    kind: ClassVar[str]
    default_window: ClassVar[int]  # layers probed by default

    def __init__(
        self,
        model: PreTrainedModel,
        processor: ProcessorMixin,
        *,
        max_image_width: int = MAX_IMAGE_WIDTH,
    ):
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self.max_image_width = max_image_width
        self.language_model.config._attn_implementation = ATTENTION
        tokenizer = processor.tokenizer
        if tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer needs a pad token (used for padding and as filler)")
        self.filler_token: str = tokenizer.pad_token
        self.filler_id: int = tokenizer.pad_token_id
        self._per_thread = threading.local()  # see `thread_processor`
        self.compile_options: dict | None = None  # set by `compile_below_window`
        self._compiled: dict[Callable, Callable] = {}  # see `compiled`

    # ------------------------------------------------------------------ model facts
    @property
    def language_model(self) -> torch.nn.Module:
        return self.model.model.language_model

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.processor.tokenizer

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    @property
    def hidden_size(self) -> int:
        return self.language_model.config.hidden_size

    @property
    def num_layers(self) -> int:
        return len(self.language_model.layers)

    @property
    def image_token_id(self) -> int:
        return self.model.config.image_token_id

    @property
    def thread_processor(self) -> ProcessorMixin:
        """The processor, with a tokenizer of the calling thread's own.

        A fast tokenizer may not be entered from two threads at once (the processor call sets its
        padding and truncation), and the trainer prepares batches in background threads while the
        main thread may validate. A tokenizer per thread, rather than a lock around the processor,
        lets those threads resize and normalise images at the same time (PIL and numpy release
        the GIL; a 1100 x 619 screen costs the image processor about 45 ms on a development
        CPU). The image processor itself is shared (it keeps no state between calls), so changes
        to its settings reach every thread; the tokenizer is copied on a thread's first call.
        """
        processor = getattr(self._per_thread, "processor", None)
        if processor is None:
            processor = copy.copy(self.processor)
            processor.tokenizer = copy.deepcopy(self.processor.tokenizer)
            self._per_thread.processor = processor
        return processor

    def answer_ids(self, text: str) -> list[int]:
        """Token ids of an answer as appended after the generation prompt."""
        return self.tokenizer.encode(text, add_special_tokens=False)

    # ------------------------------------------------------------------ input building
    def chat_text(self, screen: Screen, n_soft: int, instruction: str) -> str:
        """The prompt of every mode: a user turn [soft prompt, image, profile + instruction]."""
        question = instruction.replace("{candidates}", ", ".join(screen.slot_names))
        text = f"{screen.profile}\n\n{question}" if screen.profile else question
        content = [{"type": "image"}, {"type": "text", "text": text}]
        if n_soft:
            content.insert(0, {"type": "text", "text": self.filler_token * n_soft})
        messages = [{"role": "user", "content": content}]
        return self.processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )

    def encode(
        self,
        screens: Sequence[Screen],
        n_soft: int = 0,
        instruction: str = DEFAULT_INSTRUCTION,
    ) -> ModelBatch:
        """Encode screens into one left-padded batch on the model's device (`collate`)."""
        return self.collate([self.encode_screen(s, n_soft, instruction) for s in screens])

    def encode_screen(
        self, screen: Screen, n_soft: int = 0, instruction: str = DEFAULT_INSTRUCTION
    ) -> ScreenEncoding:
        """One screen's tokens, token cells and vision inputs (the image processor's work)."""
        image = self._fit(screen.image)
        processed = self.thread_processor(
            text=[self.chat_text(screen, n_soft, instruction)],
            images=[image],
            return_tensors="pt",
        )
        ids = processed["input_ids"][0]
        if int((ids == self.filler_id).sum()) != n_soft:
            raise ValueError("the prompt text itself contains the filler token")
        unit_cells, cell_weights = self._token_cells(processed, image.size)
        if unit_cells.shape[0] != int((ids == self.image_token_id).sum()):
            raise RuntimeError(f"{self.kind}: token cells do not match the visual tokens")
        width, height = screen.image.size
        encoding = ScreenEncoding(
            ids=ids,
            answer=None,
            cells=unit_cells * torch.tensor([width, height, width, height]),
            weights=cell_weights,
            vision=self._vision_inputs(processed),
            slot_boxes=torch.as_tensor(screen.slot_boxes, dtype=torch.float32),
            n_soft=n_soft,
        )
        return (
            encoding if screen.answer is None else encoding.answered(self.answer_ids(screen.answer))
        )

    def collate(self, encodings: Sequence[ScreenEncoding]) -> ModelBatch:
        """One left-padded batch of encoded screens, on the model's device.

        Every screen has the same template; answers are appended as tokens when present (all
        screens of a batch must have one, or none). Left padding (to a multiple of
        `PAD_MULTIPLE` positions) puts every query at the same position, so the probe reads one
        row for the whole batch.
        """
        if len({e.answer is not None for e in encodings}) != 1:
            raise ValueError("either every screen of a batch has an answer, or none has")
        n_soft = {e.n_soft for e in encodings}
        if len(n_soft) != 1:
            raise ValueError(f"screens encoded with different soft-prompt lengths {n_soft}")
        input_ids, attention_mask = _left_pad(
            [e.ids for e in encodings], self.filler_id, PAD_MULTIPLE
        )
        soft_mask = (input_ids == self.filler_id) & attention_mask.bool()
        image_mask = input_ids == self.image_token_id
        visions = [e.vision for e in encodings]
        with_answer = encodings[0].answer is not None
        batch = ModelBatch(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=self._position_ids(input_ids, attention_mask, visions),
            soft_mask=soft_mask,
            image_mask=image_mask,
            soft_index=soft_mask.flatten().nonzero()[:, 0],
            image_index=image_mask.flatten().nonzero()[:, 0],
            padded=not bool(attention_mask.all()),
            answer_ids=_left_pad([e.answer for e in encodings], -100)[0] if with_answer else None,
            screen_vision=visions,
            token_cells=[e.cells for e in encodings],
            token_weights=[e.weights for e in encodings],
            slot_boxes=[e.slot_boxes for e in encodings],
            n_soft=n_soft.pop(),
        )
        return batch.to(self.device)

    def fit_screens(self, max_width: int, max_tiles: int | None = None) -> None:
        """See screens as a dataset's runs do: downscaled to at most ``max_width`` pixels wide,
        and cut into at most ``max_tiles`` tiles (None: the processor's own cap) by a backbone
        that tiles (`ProbeSettings`)."""
        self.max_image_width = max_width
        self._limit_tiles(max_tiles)

    def _limit_tiles(self, max_tiles: int | None) -> None:
        """Cut screens into at most ``max_tiles`` tiles (None: the processor's own cap), for a
        dataset whose screens the reference tiles more coarsely; backbones that see a screen
        whole, as Qwen3-VL does, have nothing to limit."""
        return None

    def _fit(self, image: Image.Image) -> Image.Image:
        image = image.convert("RGB")
        if image.width <= self.max_image_width:
            return image
        height = round(image.height * self.max_image_width / image.width)
        return image.resize((self.max_image_width, height), Image.Resampling.LANCZOS)

    # ------------------------------------------------------------------ forward
    def embed(self, batch: ModelBatch, soft_prompt: Tensor | None = None) -> Tensor:
        """`inputs_embeds` of the layout ids with the soft prompt ((N, D) or (B, N, D)) inserted.

        The soft prompt may live in fp32; it is cast to the model dtype here, where it is used.
        """
        embeds = self.model.get_input_embeddings()(batch.input_ids)
        if batch.n_soft == 0:
            if soft_prompt is not None and soft_prompt.numel():
                raise ValueError("the batch was encoded without soft-prompt slots (n_soft=0)")
            return embeds
        if soft_prompt is None:
            raise ValueError(f"the batch has {batch.n_soft} soft-prompt slots; pass a soft prompt")
        soft = soft_prompt.to(embeds.dtype)
        soft = soft.expand(embeds.shape[0], -1, -1) if soft.dim() == 2 else soft
        if soft.shape != (embeds.shape[0], batch.n_soft, embeds.shape[-1]):
            raise ValueError(f"soft prompt {tuple(soft_prompt.shape)} does not fit the batch")
        return scatter_rows(embeds, batch.soft_index, soft.reshape(-1, soft.shape[-1]))

    @abstractmethod
    def image_features(self, batch: ModelBatch, grad: bool = False) -> VisualFeatures:
        """Run the vision tower; without ``grad`` (the frozen backbone) no graph is kept."""

    def screen_features(self, batch: ModelBatch, indices: Sequence[int]) -> VisualFeatures:
        """`image_features` of only the screens `indices` of `batch`, rows in that order.

        Lets a feature cache run the tower on just the screens it lacks.
        """
        # image_features reads only the vision inputs of the batch it is given
        chosen = [batch.screen_vision[i] for i in indices]
        return self.image_features(replace(batch, screen_vision=chosen))

    def compile_below_window(self, window: int, **options) -> None:
        """`torch.compile` the decoder layers below the last ``window`` (``options`` go to it),
        and from then on the operators' arithmetic on the window's maps (`compiled`).

        Why: on an H200 the largest share of a 4B training step is elementwise work on the
        decoder's activations (norms, rotary embeddings, gating, residual adds: 95.5 of 253 ms
        for `attnlrp` at batch 4), which the compiler fuses. Only those layers: compiled code
        has no double backward, and the second-order graph of an operator that reads the window
        (rollout, glimpse, attnlrp) ends at the window, so below it only the first-order
        backward to the soft prompt runs. The rule-based AttnLRP differentiates twice through
        every layer and must not be compiled. Each layer's own forward is compiled, so the
        per-call DeepStack hooks run outside it, and the layers share their compiled code: the
        compiler's limit of 8 variants of it (grad mode, a padding mask or none, a batch of one)
        is shared too, and variants past it run uncompiled, with the same results
        (benchmarks/README.md, "Full-scale rehearsal").
        """
        self.compile_options = options
        for layer in self.language_model.layers[: max(0, self.num_layers - window)]:
            layer.forward = torch.compile(layer.forward, **options)

    def compiled(self, function: Callable) -> Callable:
        """``function`` compiled with the options of `compile_below_window` once the layers are
        compiled, else ``function`` itself.

        For an operator's arithmetic on the window's maps and their gradients (GLIMPSE's passes
        over every head's T x T tensors, `AttentionOperator.compile_combine`): it is
        differentiated only once, by the training loss, so compiled code may run it, and the
        run's one compile setting decides for both."""
        if self.compile_options is None:
            return function
        if function not in self._compiled:
            self._compiled[function] = torch.compile(function, **self.compile_options)
        return self._compiled[function]

    @contextmanager
    def _window_attention(self, window: int, attention: Callable) -> Iterator[None]:
        layers = (
            [layer.self_attn for layer in self.language_model.layers][-window:] if window else []
        )
        for module in layers:
            module.fixate_attention = attention
        try:
            yield
        finally:
            for module in layers:
                del module.fixate_attention

    def forward(
        self,
        batch: ModelBatch,
        inputs_embeds: Tensor,
        features: VisualFeatures,
        *,
        window: int = 0,
        attention: Callable = eager_attention,
        output_attentions: bool = True,
    ) -> ForwardOutput:
        """Run the language model on prepared embeddings and visual features.

        The last `window` layers run `attention` (eager by default, which returns the maps); the
        others run SDPA. Logits are computed only at the positions that predict the answer
        tokens (or at the last position when there is no answer).
        """
        image = features.image.to(inputs_embeds.dtype)
        hidden = scatter_rows(inputs_embeds, batch.image_index, image)
        with (
            self._window_attention(min(window, self.num_layers), attention),
            self._decoder_additions(batch, features),
        ):
            out = self.language_model(
                inputs_embeds=hidden,
                # None without padding: plain causal attention, decided on the host
                attention_mask=batch.attention_mask if batch.padded else None,
                position_ids=batch.position_ids,
                use_cache=False,
                output_attentions=bool(window) and output_attentions,
            )
        length, answer = hidden.shape[1], batch.answer_length
        states = out.last_hidden_state
        states = states[:, length - 1 - answer : length - 1] if answer else states[:, -1:]
        logits = self.model.get_output_embeddings()(states)
        # SDPA layers record no weights (None), so only the window's maps remain
        attentions = tuple(a for a in out.attentions or () if a is not None)
        return ForwardOutput(logits=logits, attentions=attentions)

    def run(
        self, batch: ModelBatch, soft_prompt: Tensor | None = None, *, window: int = 0
    ) -> ForwardOutput:
        """Vision tower, embedding and language model in one call (no probing)."""
        return self.forward(
            batch, self.embed(batch, soft_prompt), self.image_features(batch), window=window
        )

    # ------------------------------------------------------------------ architecture specifics
    @abstractmethod
    def _token_cells(self, processed: Mapping, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """Each visual token's image cell as (x0, y0, x1, y1) fractions of the image, in token
        order, and the weight of each cell; `size` is the (width, height) given to the processor."""

    @abstractmethod
    def _vision_inputs(self, processed: Mapping) -> dict[str, Tensor]:
        """The vision tower's inputs of one processed screen."""

    @abstractmethod
    def _position_ids(
        self, input_ids: Tensor, attention_mask: Tensor, visions: list[dict[str, Tensor]]
    ) -> Tensor:
        """Position ids of a left-padded batch (`visions`: each screen's vision inputs)."""

    @contextmanager
    def _decoder_additions(self, batch: ModelBatch, features: VisualFeatures) -> Iterator[None]:
        """What the decoder layers add to their outputs during one call (Qwen3-VL: DeepStack)."""
        yield


def scatter_rows(states: Tensor, index: Tensor, rows: Tensor, *, add: bool = False) -> Tensor:
    """`states` (B, T, ...) with `rows` written at (or, with `add`, added to) the flattened
    positions `index` (`ModelBatch.soft_index`, `image_index`).

    Boolean-mask indexing and `masked_scatter`'s backward wait for the GPU to count the mask;
    positions taken on the host need no such sync.
    """
    flat = states.flatten(0, 1)
    flat = flat.index_add(0, index, rows) if add else flat.index_copy(0, index, rows)
    return flat.view_as(states)


def _left_pad(
    rows: Sequence[Sequence[int] | Tensor], value: int, multiple: int = 1
) -> tuple[Tensor, Tensor]:
    """Stack rows right-aligned, to a length that is a multiple of `multiple`; returns
    (padded, attention_mask)."""
    length = -(-max(len(row) for row in rows) // multiple) * multiple
    padded = torch.full((len(rows), length), value, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, row in enumerate(rows):
        if len(row):
            padded[i, length - len(row) :] = torch.as_tensor(row, dtype=torch.long)
            mask[i, length - len(row) :] = 1
    return padded, mask


def unit_grid(rows: int, cols: int) -> Tensor:
    """Row-major cells of a rows x cols grid over the unit square, as (x0, y0, x1, y1)."""
    y = torch.arange(rows, dtype=torch.float32)
    x = torch.arange(cols, dtype=torch.float32)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    return torch.stack([xx / cols, yy / rows, (xx + 1) / cols, (yy + 1) / rows], -1).reshape(-1, 4)
