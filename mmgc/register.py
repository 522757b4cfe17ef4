"""Every registration mmgc makes, in one place.

Importing :mod:`mmgc` runs this module, so a config needs only
``custom_imports=dict(imports=['mmgc'], allow_failed_imports=False)``.
Optimizers and engine parts go into mmengine's root registries (mmdet's
scoped lookups fall through to them); detection and ReID parts go into
mmdet's registries, which exist only with the ``detection``/``reid`` extras.
"""
from mmengine.registry import OPTIMIZERS

# --- paper optimizers (GC repository family) -------------------------------
from mmgc.optim import PAPER_OPTIMIZERS  # noqa: E402

for _optimizer in PAPER_OPTIMIZERS:
    OPTIMIZERS.register_module(module=_optimizer)

# --- GC-enabled general optimizers, Lookahead, Ranger, constructor, hook ----

# --- ReID (mmdet / mmpretrain registries) ----------------------------------
