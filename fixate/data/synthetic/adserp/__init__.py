"""Seeded synthetic AdSERP trials, in the exact file formats of the released ``data/`` folder.

Why this exists: the demo and the scale tests need AdSERP trials without the 8 GB download, and
the pipeline must read them through the same readers as the real files. Layout constants and
distributions follow the released data (measured on a real 10-trial sample).

The modules: :mod:`.design` (participants, query batches, trial slots, reading styles),
:mod:`.page` (the results page and its screenshot), :mod:`.simulator` (eyes, scroll and pointer on
one page), :mod:`.files` (one trial's released-format files), :mod:`.truth` (each trial's planted
gaze truth, the expected dwell per item in the decision stop, outside the released format) and
:mod:`.generate` (the whole folder). ``organic-aoi-data/`` (the organic result boxes, which the
real dataset lacks) is written too unless ``organic=False``.
"""

from fixate.data.synthetic.adserp.generate import generate_adserp

__all__ = ["generate_adserp"]
