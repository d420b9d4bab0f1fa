// @ts-check
/**
 * The submit form: pick a service and one of its task types, fill in the
 * fields (inputs built from the type's JSON Schema), attributes and options
 * (priority, idempotency key, tasks to wait for, expiry), submit, and read
 * how it went.
 *
 * @module
 */

import { el, find } from "./dom.js";
import { shortId } from "./format.js";
import { parseJson, readSchemaFields, renderSchemaFields } from "./schema_form.js";

/**
 * @import { Connection } from "./connection.js"
 * @import { ServiceInfo, TaskOutcome, TaskSubmission } from "./types.d.ts"
 */

/**
 * The form `#submit-form` and its parts.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.js";
 * import { find } from "./dom.js";
 * import { SubmitForm } from "./submit_form.js";
 * declare const connection: Connection;
 * const form = new SubmitForm(find(document, "#submit-form", HTMLFormElement), connection, {
 *   accepted: (taskId) => console.log("queued as", taskId),
 * });
 * form.showServices([]);
 * ```
 */
export class SubmitForm {
  #connection;
  #accepted;
  #service;
  #type;
  #description;
  #fields;
  #attributes;
  #options;
  #button;
  #message;
  /** @type {readonly ServiceInfo[]} */
  #services = [];

  /**
   * @param {HTMLFormElement} form
   * @param {Connection} connection where tasks are submitted
   * @param {{ accepted: (taskId: string) => void }} handlers `accepted`: a
   *   task from this form was queued
   */
  constructor(form, connection, handlers) {
    this.#connection = connection;
    this.#accepted = handlers.accepted;
    this.#service = find(form, "#submit-service", HTMLSelectElement);
    this.#type = find(form, "#submit-type", HTMLSelectElement);
    this.#description = find(form, "#submit-description", HTMLElement);
    this.#fields = find(form, "#submit-fields", HTMLFieldSetElement);
    this.#attributes = find(form, "#submit-attributes", HTMLTextAreaElement);
    this.#options = {
      priority: find(form, "#submit-priority", HTMLInputElement),
      key: find(form, "#submit-key", HTMLInputElement),
      after: find(form, "#submit-after", HTMLInputElement),
      expiresInMs: find(form, "#submit-expires", HTMLInputElement),
    };
    this.#button = find(form, "#submit-button", HTMLButtonElement);
    this.#message = find(form, "#submit-message", HTMLElement);
    this.#service.addEventListener("change", () => this.#showTypes());
    this.#type.addEventListener("change", () => this.#showFields());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submit();
    });
  }

  /**
   * Offer `services`. The choices made stay as long as the service names do
   * not change (queue depths and kernel status do, all the time).
   *
   * @param {readonly ServiceInfo[]} services
   */
  showServices(services) {
    this.#services = services;
    const names = services.map((service) => service.name);
    if (names.join() === [...this.#service.options].map((option) => option.value).join()) return;
    const previous = this.#service.value;
    this.#service.replaceChildren(...names.map((name) => el("option", { value: name }, name)));
    if (names.includes(previous)) this.#service.value = previous;
    this.#showTypes();
  }

  #chosenService() {
    return this.#services.find((service) => service.name === this.#service.value);
  }

  #chosenType() {
    return this.#chosenService()?.taskTypes.find((type) => type.name === this.#type.value);
  }

  #showTypes() {
    const types = this.#chosenService()?.taskTypes ?? [];
    this.#type.replaceChildren(...types.map(({ name }) => el("option", { value: name }, name)));
    this.#showFields();
  }

  #showFields() {
    const type = this.#chosenType();
    this.#description.textContent = type
      ? [
        type.description,
        type.parallel ? "parallel" : "serial",
        type.kind === "code" && "runs on a kernel",
      ]
        .filter(Boolean).join(" · ")
      : "";
    renderSchemaFields(this.#fields, type?.schema ?? {});
  }

  /**
   * The options filled in; those left empty are not sent. Numbers are sent
   * as typed: the server checks them and names a bad one.
   *
   * @returns {Pick<TaskSubmission, "priority" | "key" | "after" | "expiresInMs">}
   */
  #readOptions() {
    const { priority, key, after, expiresInMs } = this.#options;
    /** @type {Pick<TaskSubmission, "priority" | "key" | "after" | "expiresInMs">} */
    const options = {};
    const priorityValue = optionalNumber(priority, "priority");
    if (priorityValue !== undefined) options.priority = priorityValue;
    if (key.value.trim()) options.key = key.value.trim();
    const ids = after.value.split(/[\s,]+/).filter(Boolean);
    if (ids.length > 0) options.after = ids;
    const expiry = optionalNumber(expiresInMs, "expires in");
    if (expiry !== undefined) options.expiresInMs = expiry;
    return options;
  }

  async #submit() {
    const message = this.#message;
    message.className = "message";
    try {
      const attributes = this.#attributes.value.trim();
      /** @type {TaskSubmission} */
      const task = {
        service: this.#service.value,
        type: this.#type.value,
        fields: readSchemaFields(this.#fields),
        attributes: attributes
          ? /** @type {Record<string, unknown>} */ (parseJson(attributes, "attributes"))
          : undefined,
        ...this.#readOptions(),
      };
      this.#button.disabled = true;
      const outcome = await this.#connection.submit(task, (taskId) => {
        this.#button.disabled = false;
        message.textContent = `Submitted ${shortId(taskId)}…`;
        this.#accepted(taskId);
      });
      message.textContent = outcomeLine(outcome);
      message.classList.add(outcome.status === "ok" ? "ok" : "error");
    } catch (error) {
      message.textContent = /** @type {Error} */ (error).message;
      message.classList.add("error");
    } finally {
      this.#button.disabled = false;
    }
  }
}

/**
 * The number in `input`, `undefined` if it is empty; throws naming `field`
 * if what was typed is not a number.
 *
 * @param {HTMLInputElement} input
 * @param {string} field
 * @returns {number | undefined}
 */
function optionalNumber(input, field) {
  if (input.validity.badInput) throw new Error(`${field}: not a number`);
  const text = input.value.trim();
  if (!text) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`${field}: not a number: ${text}`);
  return value;
}

/**
 * @param {TaskOutcome} outcome
 * @returns {string}
 */
function outcomeLine(outcome) {
  return outcome.status === "ok"
    ? `${shortId(outcome.id)} succeeded`
    : `${shortId(outcome.id)} failed: ${outcome.ename}: ${outcome.evalue}`;
}
