"""What training writes to the log: one line per logging step (`logging_steps`) on stderr,
instead of trl's tqdm bars and printed dicts, which fill a log file with carriage returns and
Python reprs."""

from __future__ import annotations

import sys
from typing import Any

SHOWN = ("loss", "grad_norm", "learning_rate", "accuracy", "rewards/accuracies", "margin")


def quiet_training(trainer: Any, name: str) -> Any:
    """Replace the trainer's tqdm bar and printed dicts with one log line per logging step:
    `train NAME step 5/30: loss 0.6937, grad_norm 0.1117, ...`."""
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class TrainLog(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
            figures = [f"{k} {_short(v)}" for k, v in (logs or {}).items() if k in SHOWN]
            if figures:
                step = f"{state.global_step}/{state.max_steps}"
                print(
                    f"train {name} step {step}: {', '.join(figures)}", file=sys.stderr, flush=True
                )

    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(TrainLog())
    return trainer


def _short(value: Any) -> str:
    if isinstance(value, str):  # trl logs some figures as formatted strings
        try:
            value = float(value)
        except ValueError:
            return value
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def quiet_libraries() -> None:
    """trl 1.16 and peft 0.21 still call the model's `gradient_checkpointing_*` methods that
    transformers 5 deprecated: a warning per training step that no setting avoids. And the
    libraries' own bars (loading weights, tokenizing the splits, writing shards): a training
    log reads as `train NAME step ...` lines, not as a dozen bars per run."""
    import warnings

    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()

    warnings.filterwarnings(
        "ignore",
        category=FutureWarning,
        module=r"transformers\.modeling_utils",
        message=r"`(is_)?gradient_checkpointing(_enable|_disable)?` is deprecated",
    )
