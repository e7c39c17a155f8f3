"""Device runners: measure exported artifacts on real devices (convert -> profile -> parse).

``runners.base`` holds the interface (:class:`DeviceRunner`, :class:`Measurement`, ``measure_all``),
``runners.registry`` the runners by name (``get_runner("local")``). This package init imports nothing, so
the measuring worker process (``runners.local_worker``) loads no more than its model's runtime.
"""
