"""A hint to the processor, from the kernels: start loading an array element's cache line now.

``prefetch(array, i)``, ``prefetch(array, i, j)`` and ``prefetch(array, i, j, k)`` emit LLVM's
``llvm.prefetch`` (a read, kept in every cache level) for the element at that index. It changes no
value and cannot fault: an address outside the array is only a wasted hint, and the callers keep
their indices inside anyway. ``engine.listing.fast.ahead.look_ahead`` uses it to start the
loads a later command of the batch will wait for, so that their cache misses overlap the work of
the commands before it (bench/RESULTS.md, issue 19, "Eighth session").
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir  # type: ignore[import-untyped]
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_READ, _KEEP_IN_ALL_LEVELS, _DATA = 0, 3, 1  # llvm.prefetch's rw, locality and cache type


@intrinsic
def prefetch(typingctx: Any, array: Any, *indices: Any) -> Any:
    """Prefetch the cache line of ``array[indices]`` (an integer per dimension, no wraparound)."""
    if not isinstance(array, types.Array) or len(indices) != array.ndim:
        return None
    if not all(isinstance(index, types.Integer) for index in indices):
        return None
    signature = types.void(array, types.StarArgTuple.from_types(indices))  # type: ignore[no-untyped-call]

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        array_type = sig.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        index_values = cgutils.unpack_tuple(builder, args[1])  # type: ignore[no-untyped-call]
        address = cgutils.get_item_pointer(context, builder, array_type, view, index_values, wraparound=False)  # type: ignore[no-untyped-call]
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        hint_type = ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32])
        hint = cgutils.get_or_insert_function(builder.module, hint_type, "llvm.prefetch.p0")  # type: ignore[no-untyped-call]
        builder.call(hint, [builder.bitcast(address, byte_pointer), i32(_READ), i32(_KEEP_IN_ALL_LEVELS), i32(_DATA)])
        return context.get_dummy_value()

    return signature, codegen
