"""Runtime code every service shares: settings, Kafka, topics, dead letters, sinks, metrics.

Written once here so that each service is only its pure core plus a thin shell.
"""
