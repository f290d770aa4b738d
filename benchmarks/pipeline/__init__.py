"""The system report: the whole pipeline on the local stack, with and without faults (``make report``)."""
