"""What a host offers the scorer: Python, packages, cores, BLAS, and this package's version."""

import json

from fraud_scoring.threads import usable_cores
from fraud_scoring.version import package_info

PROBED_PACKAGES = ("numpy", "h5py", "keras", "tensorflow")


def blas_libraries():
    """The BLAS libraries loaded in this process (numpy's), as threadpoolctl sees them.

    None without threadpoolctl; [] when numpy's BLAS is none it knows (OpenBLAS,
    MKL, BLIS, FlexiBLAS): typically the reference BLAS, which scored 5x slower.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [
        {"library": info.get("internal_api"), "version": info.get("version"), "threads": info.get("num_threads")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]


def probe_packages():
    """This host's Python, packages, cores, BLAS and fraud_scoring (version, source hash), as JSON.

    Package versions come from package metadata: nothing but numpy (safe in a
    backend) is imported (importing TensorFlow inside a backend crashed the server here).
    """
    import platform
    import sys
    from importlib import metadata

    owners = metadata.packages_distributions()  # import name -> distributions (tensorflow -> tensorflow-cpu)
    found = {}
    for name in PROBED_PACKAGES:
        found[name] = None
        for dist in owners.get(name, [name]):
            try:
                found[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                pass
    info = package_info()
    return json.dumps(
        {
            "python": platform.python_version(),
            "executable": sys.executable,
            "host": platform.node(),
            "packages": found,
            "fraud_scoring": {"version": info["version"], "sha256": info["sha256"]},
            "cores": usable_cores(),
            "blas": blas_libraries(),
        }
    )
