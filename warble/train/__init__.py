"""Stage 3: training. `loop.train` is the entry point; `distributed` holds the parallel layouts, `checkpoint` the
DCP checkpoints, `optim`/`schedule` the optimizers and learning rates, `data` the packed batches, `plan` the
dry run for big clusters."""
