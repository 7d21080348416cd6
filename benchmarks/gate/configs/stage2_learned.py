# Gate benchmark, stage 2 base of the learned gates: stage2.py with every gate parameter
# running (the runs set the gate and its loss; runs.py).
_base_ = ['./stage2.py']
find_unused_parameters = False
