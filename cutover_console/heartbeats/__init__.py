"""Data-flow heartbeats: which sites send data to the old side and which reach the new one."""
