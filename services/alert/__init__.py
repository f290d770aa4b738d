"""Alert service: user rules evaluated on the analytics topics, notifications delivered without loss."""
