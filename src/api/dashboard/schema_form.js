// @ts-check
/**
 * Form inputs for a task type's fields, built from their JSON Schema, and
 * the values read back from them.
 *
 * A property is edited with a typed input when it is simple (a string,
 * number, integer, boolean or enum), else as JSON text; a schema that is not
 * an object of properties is edited whole, as JSON.
 *
 * @module
 */

import { el } from "./dom.js";

/** @import { JsonSchema } from "./types.d.ts" */

/** @typedef {"enum" | "string" | "number" | "integer" | "boolean" | "json"} FieldKind */

/** The name of the one textarea that holds all the fields, when the schema has no properties. */
const WHOLE_FIELDS = "$fields";

/**
 * Replace the inputs of `fieldset` with those for `schema`, showing each
 * property's default.
 *
 * @example
 * ```js
 * import { find } from "./dom.js";
 * import { renderSchemaFields } from "./schema_form.js";
 * renderSchemaFields(find(document, "#submit-fields", HTMLFieldSetElement), {
 *   type: "object",
 *   properties: { a: { type: "number" }, unit: { enum: ["Hz", "kHz"] } },
 *   required: ["a"],
 * });
 * ```
 *
 * @param {HTMLFieldSetElement} fieldset
 * @param {JsonSchema} schema
 */
export function renderSchemaFields(fieldset, schema) {
  if (schema.type !== "object" || !schema.properties) {
    fieldset.replaceChildren(
      el(
        "label",
        { className: "field" },
        "fields (JSON)",
        el("textarea", { name: WHOLE_FIELDS, rows: 4, spellcheck: false, value: "{}" }),
      ),
    );
    return;
  }
  const required = new Set(schema.required ?? []);
  fieldset.replaceChildren(
    ...Object.entries(schema.properties).map(([name, property]) =>
      propertyField(name, property, required.has(name))
    ),
  );
}

/**
 * The values of the inputs `renderSchemaFields` made, as JSON values. An
 * empty optional input is left out, so the type's default applies. Throws,
 * naming the field, when a JSON input does not parse.
 *
 * @example
 * ```js
 * import { find } from "./dom.js";
 * import { readSchemaFields } from "./schema_form.js";
 * readSchemaFields(find(document, "#submit-fields", HTMLFieldSetElement)); // { a: 2, unit: "Hz" }
 * ```
 *
 * @param {HTMLFieldSetElement} fieldset
 * @returns {unknown}
 */
export function readSchemaFields(fieldset) {
  /** @type {Record<string, unknown>} */
  const fields = {};
  for (const input of fieldset.elements) {
    if (input instanceof HTMLTextAreaElement && input.name === WHOLE_FIELDS) {
      return parseJson(input.value || "{}", "fields");
    }
    if (input instanceof HTMLInputElement && input.type === "checkbox") {
      fields[input.name] = input.checked;
      continue;
    }
    if (!isValueInput(input) || input.value === "") continue;
    const kind = input.dataset.kind;
    fields[input.name] = kind === "string"
      ? input.value
      : kind === "number" || kind === "integer"
      ? Number(input.value)
      : parseJson(input.value, input.name);
  }
  return fields;
}

/**
 * Parse `text` as JSON; the error names `what` was not valid.
 *
 * @example
 * ```js
 * import { parseJson } from "./schema_form.js";
 * parseJson('{"requestedBy": "me"}', "attributes"); // { requestedBy: "me" }
 * ```
 *
 * @param {string} text
 * @param {string} what
 * @returns {unknown}
 */
export function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what}: not valid JSON (${/** @type {Error} */ (error).message})`);
  }
}

/**
 * @param {Element} element
 * @returns {element is HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement}
 */
function isValueInput(element) {
  return element instanceof HTMLInputElement || element instanceof HTMLSelectElement ||
    element instanceof HTMLTextAreaElement;
}

/**
 * @param {JsonSchema} property
 * @returns {FieldKind}
 */
function fieldKind(property) {
  if (Array.isArray(property.enum)) return "enum";
  switch (property.type) {
    case "string":
    case "number":
    case "integer":
    case "boolean":
      return property.type;
    default:
      return "json";
  }
}

/**
 * A property's label, input and description.
 *
 * @param {string} name
 * @param {JsonSchema} property
 * @param {boolean} required
 * @returns {HTMLLabelElement}
 */
function propertyField(name, property, required) {
  const kind = fieldKind(property);
  const label = el(
    "span",
    {},
    name,
    required && el("span", { className: "required", title: "required" }, " *"),
  );
  const hint = property.description
    ? el("small", { className: "muted" }, property.description)
    : undefined;
  const common = { name, dataset: { kind }, title: property.description };
  const shown = String(property.default ?? "");
  switch (kind) {
    case "boolean": {
      const input = el("input", {
        ...common,
        type: "checkbox",
        checked: property.default === true,
      });
      return el("label", { className: "field check" }, input, label, hint);
    }
    case "enum": {
      const input = el(
        "select",
        common,
        !required && el("option", { value: "" }, ""),
        (property.enum ?? []).map((value) =>
          el("option", { value: JSON.stringify(value) }, String(value))
        ),
      );
      if (property.default !== undefined) input.value = JSON.stringify(property.default);
      return el("label", { className: "field" }, label, input, hint);
    }
    case "number":
    case "integer": {
      const input = el("input", {
        ...common,
        type: "number",
        step: kind === "integer" ? "1" : "any",
        value: shown,
        placeholder: kind,
      });
      return el("label", { className: "field" }, label, input, hint);
    }
    case "string": {
      const input = el("input", {
        ...common,
        type: "text",
        value: shown,
        placeholder: "text",
        autocomplete: "off",
      });
      return el("label", { className: "field" }, label, input, hint);
    }
    case "json": {
      const input = el("textarea", {
        ...common,
        rows: 2,
        spellcheck: false,
        value: property.default === undefined ? "" : JSON.stringify(property.default),
        placeholder: "JSON",
      });
      return el("label", { className: "field" }, label, input, hint);
    }
  }
}
