"""Small pieces shared by the benchmark scenarios in ``bench/`` (imported as ``lib.<module>``
with ``bench/`` on ``sys.path``, as the scripts there import ``claim`` and ``mqtt_common``)."""
