"""Line-completion evaluation: the task format of the bench, its scores, baselines A and B."""
