"""The licensing audit and the run report: what a compliance reviewer and a training lead read.

Both read a finished workdir (or a token folder) and nothing else: the step folders' shard
markers and drop logs, the documents of each step, the token index and the trainer's log.
"""
