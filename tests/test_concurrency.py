"""One process, several threads: one search at a time, exports beside it, file descriptor 2 left as found."""

import os
import threading

import pytest
from conftest import plugin_of, registered, tiny_architecture

import automodel
from automodel import SearchError
from automodel.startup import quiet_native_stderr


def test_a_second_search_in_the_same_process_is_refused_while_one_runs(tmp_path, small_digits):
    training, release = threading.Event(), threading.Event()

    def slow_fit(self, hp, model, spec, *args, **kwargs):
        training.set()
        release.wait(120)
        return model.fit(*args, **kwargs)

    options = dict(task="image_classification", data=small_digits, architectures=["tiny"], tuner="random",
                   max_trials=1, epochs=1, directory=tmp_path)
    results = []
    with registered(plugin_of(tiny_architecture(fit=slow_fit)), "tiny"):
        first = threading.Thread(target=lambda: results.append(automodel.search(name="a", **options)))
        first.start()
        assert training.wait(300)
        with pytest.raises(SearchError, match="Another search is running in this process"):
            automodel.search(name="b", **options)
        release.set()
        first.join(300)
    assert not (tmp_path / "b").exists()  # refused before anything was written
    assert results and results[0].status == "finished"


def test_overlapping_quiet_blocks_in_two_threads_restore_file_descriptor_2():
    original = os.fstat(2)
    devnull = os.stat(os.devnull)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with quiet_native_stderr():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        first_in.wait(10)
        with quiet_native_stderr():
            second_in.set()
            first_out.wait(10)
            seen["inside, after the first left"] = os.fstat(2).st_ino  # still quiet: the second block holds it

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert seen["inside, after the first left"] == devnull.st_ino
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (original.st_dev, original.st_ino)  # not left pointing at /dev/null
