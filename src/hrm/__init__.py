from .numba_cache import use_versioned_cache

use_versioned_cache()  # before any module imports numba (numba reads NUMBA_CACHE_DIR once, on import)
