/** Python run in every kernel right after it starts, before any startup code. */

/**
 * Makes the last expression's value come back as `application/json`
 * whenever it has a JSON form, so callers get data rather than a repr.
 *
 * IPython's stock JSON formatter only accepts dicts and lists and asserts on
 * strings; this one accepts any JSON value (a `str` result arrives as the
 * JSON string, not as its quoted repr). Tuples become lists, numpy scalars
 * and arrays go through `.tolist()`. NaN, infinities, non-string keys and
 * anything `json` cannot encode yield no JSON (the caller still gets
 * `text/plain`). Objects with `_repr_json_` keep their own choice.
 *
 * Running it twice is harmless: it only replaces the formatter again.
 *
 * @example
 * ```ts
 * import { BOOTSTRAP_CODE } from "./bootstrap.ts";
 * // await kernel.execute(BOOTSTRAP_CODE) — JupyterKernel does this itself.
 * BOOTSTRAP_CODE.includes("application/json"); // true
 * ```
 */
export const BOOTSTRAP_CODE = String.raw`
def _zest_bootstrap():
    import json
    from IPython import get_ipython
    from IPython.core.formatters import JSONFormatter

    def tolist(value):
        # numpy scalars and arrays, without importing numpy.
        if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
            return value.tolist()
        raise TypeError(type(value).__name__)

    def keys_are_strings(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and keys_are_strings(v) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return all(keys_are_strings(v) for v in value)
        return True

    def to_json(value):
        own = getattr(type(value), "_repr_json_", None)
        if own is not None:
            return own(value)
        try:
            if not keys_are_strings(value):
                return None  # json would turn 1 into "1": not the same dict
            return json.loads(json.dumps(value, allow_nan=False, default=tolist))
        except (TypeError, ValueError, OverflowError, RecursionError):
            return None

    class AnyJSONFormatter(JSONFormatter):
        def _check_return(self, r, obj):
            # _repr_json_ may return (data, metadata).
            data = r[0] if isinstance(r, tuple) and len(r) == 2 else r
            return r if isinstance(data, (dict, list, str, int, float, bool)) else None

    shell = get_ipython()
    formatter = AnyJSONFormatter(parent=shell.display_formatter)
    formatter.for_type(object, to_json)
    shell.display_formatter.formatters["application/json"] = formatter

_zest_bootstrap()
del _zest_bootstrap
`;
