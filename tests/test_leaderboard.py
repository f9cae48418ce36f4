"""The leaderboard's order: status, the objective (on the folds both trained), the validation loss on ties."""

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


def _folded(run: RunDir, folds: dict) -> None:
    """Give each trial its folds' accuracy curves (one list per fold) and the mean curve as its history."""
    for trial_id, curves in folds.items():
        histories = [{"val_accuracy": curve, "val_loss": [1 - v for v in curve]} for curve in curves]
        length = min(len(curve) for curve in curves)
        mean = [sum(curve[i] for curve in curves) / len(curves) for i in range(length)]
        run.write_trial_record(trial_id, {**run.trial_record(trial_id), "history": {
            "val_accuracy": mean, "val_loss": [1 - v for v in mean]}, "folds": [{"history": h} for h in histories]})


def test_a_trial_that_trained_fewer_folds_is_compared_on_the_folds_both_trained(tmp_path):
    # 0001 was too slow for more than two of five folds: it beats 0000 on those two, whatever 0000 did on the rest
    run = _run(tmp_path, {"0000": (0, 0), "0001": (0, 0), "0002": (0, 0)})
    _folded(run, {"0000": [[0.3], [0.2], [0.9], [0.9], [0.9]],  # 0.64 on five folds, 0.25 on the first two
                  "0001": [[0.8], [0.7]],                      # 0.75 on two
                  "0002": [[0.9], [0.9], [0.9], [0.9], [0.9]]})
    board = leaderboard(run.path)
    assert board["trial"].tolist() == ["0002", "0001", "0000"] and board["folds"].tolist() == [5, 2, 5]


def test_the_folds_both_trained_are_scored_at_the_best_epoch_of_their_mean_curve(tmp_path):
    # 0000's two first folds peak at different epochs: their mean is 0.6 at best, not the 0.9 of each fold's own best
    run = _run(tmp_path, {"0000": (0, 0), "0001": (0, 0)})
    _folded(run, {"0000": [[0.9, 0.3], [0.3, 0.9], [0.9, 0.9]], "0001": [[0.7, 0.7], [0.7, 0.7]]})
    assert leaderboard(run.path)["trial"].tolist() == ["0001", "0000"]


def test_as_good_on_the_folds_both_trained_the_trial_with_more_folds_ranks_first(tmp_path):
    run = _run(tmp_path, {"0000": (0, 0), "0001": (0, 0)})
    _folded(run, {"0000": [[0.8]], "0001": [[0.8], [0.5], [0.5]]})
    assert leaderboard(run.path)["trial"].tolist() == ["0001", "0000"]


def test_a_completed_trial_ranks_before_a_pruned_one_whatever_their_folds(tmp_path):
    run = _run(tmp_path, {"0000": (0, 0), "0001": (0, 0)})
    _folded(run, {"0000": [[0.9], [0.9]], "0001": [[0.5], [0.5], [0.5]]})
    run.write_trial_record("0000", {**run.trial_record("0000"), "status": "pruned"})
    assert leaderboard(run.path)["trial"].tolist() == ["0001", "0000"]
