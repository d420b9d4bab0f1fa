/** Python run in every kernel right after it starts, before any startup code. */

/**
 * Makes the last expression's value (the `execute_result`) come with an
 * `application/json` form whenever it has one, so callers get data rather
 * than a repr. Nothing else changes: `display()` and every other use of
 * IPython's formatters give exactly what stock IPython gives.
 *
 * It wraps the shell's display hook (what publishes the last expression),
 * not the shared JSON formatter. The JSON form accepts any JSON value (a
 * `str` result arrives as the JSON string, not as its quoted repr; stock
 * IPython only knows `_repr_json_`). Tuples become lists, numpy scalars
 * and arrays go through `.tolist()`. NaN, infinities, non-string keys and
 * anything `json` cannot encode yield no JSON (the caller still gets
 * `text/plain`). Objects with `_repr_json_` keep their own choice.
 *
 * Running it twice is harmless: it wraps the class's own method again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BOOTSTRAP_CODE } from "./bootstrap.ts";
 * // await kernel.execute(BOOTSTRAP_CODE) — JupyterKernel does this itself.
 * assert.match(BOOTSTRAP_CODE, /application\/json/);
 * ```
 */
export const BOOTSTRAP_CODE: string = String.raw`
def _zest_bootstrap():
    import json
    from IPython import get_ipython

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
        try:
            if not keys_are_strings(value):
                return None  # json would turn 1 into "1": not the same dict
            return json.loads(json.dumps(value, allow_nan=False, default=tolist))
        except (TypeError, ValueError, OverflowError, RecursionError):
            return None

    hook = get_ipython().displayhook
    stock = type(hook).compute_format_data

    def compute_format_data(result):
        data, metadata = stock(hook, result)
        if "application/json" not in data:
            value = to_json(result)
            if value is not None:
                data["application/json"] = value
        return data, metadata

    hook.compute_format_data = compute_format_data

_zest_bootstrap()
del _zest_bootstrap
`;
