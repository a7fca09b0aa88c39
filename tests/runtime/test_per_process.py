"""PerProcess: one value per process; a forked child (a prefork worker) makes its own."""

import os

from avatarsite.runtime.per_process import PerProcess


def test_one_value_per_process_and_a_new_one_after_a_fork():
    made = []
    value = PerProcess(lambda: made.append(os.getpid()) or object())
    parent_value = value.get()
    assert value.get() is parent_value
    assert made == [os.getpid()]

    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report whether it made its own, then leave at once
        own = value.get() is not parent_value and made[-1] == os.getpid()
        os.write(write_end, b"own" if own else b"inherited")
        os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 16)
    os.waitpid(child, 0)

    assert answer == b"own"
    assert value.get() is parent_value  # the parent keeps its own
