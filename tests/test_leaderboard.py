"""The leaderboard's order: whole cross-validations first, the objective, the validation loss on ties."""

from automodel.runs.leaderboard import leaderboard
from automodel.runs.rundir import RunDir


def _run(tmp_path, trials: dict) -> RunDir:
    run = RunDir(tmp_path / "r")
    run.write_meta({"status": "finished", "task": "sequence_classification",
                    "objective": {"name": "val_accuracy", "direction": "max"}})
    for trial_id, (accuracy, loss) in trials.items():
        run.write_trial_record(trial_id, {"status": "completed", "architecture": "cnn",
                                          "history": {"val_accuracy": [accuracy], "val_loss": [loss]}})
    return run


def test_trials_that_tie_on_accuracy_are_ranked_by_their_validation_loss(tmp_path):
    # 10 validation samples: four trials at 0.7, the order they ran in says nothing about which is best
    run = _run(tmp_path, {"0000": (0.7, 0.82), "0001": (0.5, 0.30), "0002": (0.7, 1.35), "0003": (0.7, 0.72)})
    board = leaderboard(run.path)
    assert board["trial"].tolist() == ["0003", "0000", "0002", "0001"]  # a lower loss never beats a higher accuracy


def test_a_loss_objective_is_ranked_by_itself(tmp_path):
    run = _run(tmp_path, {"0000": (0.9, 0.5), "0001": (0.6, 0.2)})
    run.write_meta({**run.meta(), "objective": {"name": "val_loss", "direction": "min"}})
    assert leaderboard(run.path)["trial"].tolist() == ["0001", "0000"]


def test_a_trial_cross_validated_on_fewer_folds_ranks_after_those_on_all(tmp_path):
    # too slow to train all five folds within its cap: its one fold's 0.95 on a fifth of the samples is no better
    run = _run(tmp_path, {"0000": (0.80, 0.6), "0001": (0.95, 0.2), "0002": (0.85, 0.5)})
    for trial_id, folds in (("0000", 5), ("0001", 1), ("0002", 5)):
        record = run.trial_record(trial_id)
        run.write_trial_record(trial_id, {**record, "folds": [{"best": 0.8}] * folds})
    board = leaderboard(run.path)
    assert board["trial"].tolist() == ["0002", "0000", "0001"] and board["folds"].tolist() == [5, 5, 1]
