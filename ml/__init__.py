"""deeppp stage ml: the FCNN H->bb tagger, AutoPruner (pruning during training), the retrained
and prune/train/repeat baselines, and the pruning studies.

Library entry points: :func:`ml.jobs.train_model` (one named model to ``models/{model}/``),
:func:`ml.studies.run_study` (one study to JSON + PNG), :func:`ml.model_io.load_model` (the
ml -> firmware contract). CLI: ``python -m ml --help``. Design notes: ``docs/autopruner.md``.
"""
