"""Seeded synthetic RecGaze raw logs, in the exact file formats of the released dataset.

Why this exists: the RecGaze participant logs are only on Zenodo (the gaze coordinates in a
restricted record), so the workflow, its tests and the demo need stand-in raw files that the real
readers accept unchanged and that still carry the signal FixATE learns. Every synthetic user
therefore has a stable gaze style drawn once from the seed, and their clicks follow their own gaze.

The modules, in the order a folder is made: :mod:`.design` (roster, sessions and their outcomes,
carousel genres), :mod:`.items` and :mod:`.users` (the item and user tables, the users' styles),
:mod:`.screen`, :mod:`.plan`, :mod:`.fixations`, :mod:`.cursor` and :mod:`.session` (one session
simulated on the interface geometry), :mod:`.tables` and :mod:`.posters` (the released files),
:mod:`.truth` (the planted gaze truth) and :mod:`.generate` (the whole folder).
"""

from fixate.data.synthetic.recgaze.generate import generate_recgaze

__all__ = ["generate_recgaze"]
