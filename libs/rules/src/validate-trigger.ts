import { parse as parseJsonc, ParseError, printParseErrorCode } from 'jsonc-parser';
import { EVENT_TYPE_IDS, EventType, isPlainObject as isObject } from '@triggers/contracts';
import { parseHttpUrl } from '@triggers/address-policy';
import { closestWord } from './did-you-mean';
import { parseRetryWindow } from './retry-window';
import { normaliseEventType } from './event-type-names';
import { isKnownReference, suggestReference } from './reference-catalog';
import {
  ACTIONS,
  Action,
  Condition,
  InvalidTrigger,
  LIMITS,
  OPERATORS,
  Operator,
  SPEC_ERRORS,
  SpecError,
  TriggerInput,
  ValidationDetail,
  ValidationResult,
} from './trigger.model';

/** Precedence of the spec's messages when problems of several kinds are found at once. */
const PRECEDENCE: SpecError[] = [SPEC_ERRORS.invalidJson, SPEC_ERRORS.actions, SPEC_ERRORS.actionParameters, SPEC_ERRORS.saving];

class Problems {
  readonly list: (ValidationDetail & { kind: SpecError })[] = [];
  add(kind: SpecError, path: string, message: string) {
    this.list.push({ kind, path, message });
  }
  result(): InvalidTrigger | undefined {
    if (this.list.length === 0) return undefined;
    const error = PRECEDENCE.find((k) => this.list.some((p) => p.kind === k))!;
    return { ok: false, error, details: this.list.map(({ path, message }) => ({ path, message })) };
  }
}

/**
 * Validates and normalises a trigger as a tenant submits it. Invalid input gets one of the
 * spec's four messages with a detail per problem; valid input gets the normalised trigger (event
 * type id, `listId` for the spec's `lead.listId`) and warnings (e.g. a reference that no payload
 * of that event type has).
 */
export function validateTrigger(input: TriggerInput): ValidationResult {
  const problems = new Problems();
  const warnings: string[] = [];

  // Stored as returned: NFC, whole characters only.
  const name = typeof input.name === 'string' && isWellFormed(input.name) ? input.name.trim().normalize('NFC') : '';
  if (typeof input.name === 'string' && !isWellFormed(input.name))
    problems.add(SPEC_ERRORS.saving, 'name', 'name contains a lone surrogate (half of a character)');
  else if (!name) problems.add(SPEC_ERRORS.saving, 'name', 'a trigger needs a name');
  else if ([...name].length > LIMITS.name) problems.add(SPEC_ERRORS.saving, 'name', `name is longer than ${LIMITS.name} characters`);
  else if (/\p{Cc}/u.test(name)) problems.add(SPEC_ERRORS.saving, 'name', 'name contains control characters (such as a newline or a tab)');

  const eventType = normaliseEventType(input.eventType);
  if (!eventType) {
    problems.add(SPEC_ERRORS.saving, 'eventType', `unknown event type ${JSON.stringify(input.eventType ?? null)}; use one of ${EVENT_TYPE_IDS.join(', ')}`);
  }

  let enabled = false;
  if (input.enabled === undefined) enabled = false;
  else if (typeof input.enabled === 'boolean') enabled = input.enabled;
  else problems.add(SPEC_ERRORS.saving, 'enabled', 'enabled must be true or false');

  const { parameters, text } = readParameters(input.parameters, problems);
  let conditions: Condition[] = [];
  let actions: Action[] = [];
  if (parameters) {
    for (const key of Object.keys(parameters)) {
      if (key !== 'conditions' && key !== 'actions') {
        const hint = closestWord(key, ['conditions', 'actions']);
        warnings.push(`unknown key "${key}" in parameters is ignored${hint ? `; did you mean "${hint}"?` : ''}`);
      }
    }
    actions = readActions(parameters.actions, problems, warnings);
    conditions = readConditions(parameters.conditions, problems);
  }

  const invalid = problems.result();
  if (invalid) return invalid;

  for (const [i, c] of conditions.entries()) {
    if (!isKnownReference(eventType!, c.reference)) {
      const suggestion = suggestReference(eventType!, c.reference);
      warnings.push(
        `unknown reference "${c.reference}" for ${eventType}${suggestion ? `; did you mean "${suggestion}"?` : ''}` +
          ` (parameters.conditions[${i}].reference)`,
      );
    }
  }
  return { ok: true, trigger: { name, eventType: eventType as EventType, enabled, conditions, actions }, parametersText: text, warnings };
}

function readParameters(raw: unknown, problems: Problems): { parameters?: Record<string, unknown>; text: string } {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
    problems.add(SPEC_ERRORS.invalidJson, 'parameters', 'the parameters field is empty');
    return { text: '' };
  }
  if (typeof raw === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      problems.add(SPEC_ERRORS.invalidJson, 'parameters', describeJsonError(raw));
      return { text: raw };
    }
    if (!isObject(parsed)) {
      problems.add(SPEC_ERRORS.invalidJson, 'parameters', 'the parameters must be a JSON object: {"conditions": [...], "actions": [...]}');
      return { text: raw };
    }
    if (depthOf(parsed) > LIMITS.jsonDepth) {
      problems.add(SPEC_ERRORS.invalidJson, 'parameters', `the parameters are nested deeper than ${LIMITS.jsonDepth} levels`);
      return { text: raw };
    }
    return { parameters: parsed, text: raw };
  }
  if (isObject(raw) && depthOf(raw) > LIMITS.jsonDepth) {
    problems.add(SPEC_ERRORS.invalidJson, 'parameters', `the parameters are nested deeper than ${LIMITS.jsonDepth} levels`);
    return { text: '' };
  }
  if (!isObject(raw)) {
    problems.add(SPEC_ERRORS.invalidJson, 'parameters', 'the parameters must be a JSON object: {"conditions": [...], "actions": [...]}');
    return { text: '' };
  }
  return { parameters: raw, text: JSON.stringify(raw, null, 2) };
}

/** No lone surrogate (half of a UTF-16 pair), which would be stored as U+FFFD and not echo back as sent. */
function isWellFormed(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** How deeply a parsed JSON value nests (iterative: no recursion a deep value could exhaust). */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > LIMITS.jsonDepth) return max;
    for (const child of Object.values(v as object)) stack.push([child, d + 1]);
  }
  return max;
}

/** Where and why JSON text does not parse, as "line L, column C: reason". */
export function describeJsonError(text: string): string {
  const errors: ParseError[] = [];
  parseJsonc(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (!first) return 'the parameters are not valid JSON';
  const before = text.slice(0, first.offset);
  const line = before.split('\n').length;
  const column = first.offset - before.lastIndexOf('\n');
  const reason: Record<string, string> = {
    InvalidCommentToken: 'comments are not allowed in JSON',
    PropertyNameExpected: 'a property name in double quotes was expected',
    ValueExpected: 'a value was expected',
    ColonExpected: 'a colon (:) was expected',
    CommaExpected: 'a comma was expected',
    CloseBraceExpected: 'a closing brace (}) was expected',
    CloseBracketExpected: 'a closing bracket (]) was expected',
    EndOfFileExpected: 'nothing may follow the closing brace',
    InvalidSymbol: 'unexpected character',
    UnexpectedEndOfString: 'a string is not closed',
    UnexpectedEndOfComment: 'a comment is not closed',
    InvalidCharacter: 'a string holds a control character',
    InvalidEscapeCharacter: 'a string holds an invalid escape',
    InvalidUnicode: 'a string holds an invalid \\u escape',
    InvalidNumberFormat: 'a number is malformed',
  };
  const code = printParseErrorCode(first.error);
  return `line ${line}, column ${column}: ${reason[code] ?? code}`;
}

function readActions(raw: unknown, problems: Problems, warnings: string[]): Action[] {
  const kind = SPEC_ERRORS.actions;
  if (raw === undefined) {
    problems.add(kind, 'parameters.actions', 'a trigger needs at least one action: "actions": [{"action": "webhook", ...}]');
    return [];
  }
  if (!Array.isArray(raw)) {
    problems.add(kind, 'parameters.actions', 'actions must be a list: "actions": [...]');
    return [];
  }
  if (raw.length === 0) {
    problems.add(kind, 'parameters.actions', 'a trigger needs at least one action; the list is empty');
    return [];
  }
  if (raw.length > LIMITS.actions) problems.add(SPEC_ERRORS.saving, 'parameters.actions', `at most ${LIMITS.actions} actions`);
  const actions: Action[] = [];
  raw.forEach((entry: unknown, i) => {
    const path = `parameters.actions[${i}]`;
    if (!isObject(entry)) {
      problems.add(kind, path, 'each action must be an object: {"action": ..., "parameters": {...}}');
      return;
    }
    if (entry.action === undefined || entry.action === null || (typeof entry.action === 'string' && entry.action.trim() === '')) {
      problems.add(kind, `${path}.action`, 'the action is empty; use "webhook" or "lead.update.list"');
      return;
    }
    if (typeof entry.action !== 'string' || !(ACTIONS as readonly string[]).includes(entry.action)) {
      const hint = typeof entry.action === 'string' ? closestWord(entry.action.trim(), ACTIONS) : undefined;
      problems.add(
        SPEC_ERRORS.saving,
        `${path}.action`,
        `unknown action ${JSON.stringify(entry.action)}${hint ? `; did you mean "${hint}"?` : '; use "webhook" or "lead.update.list"'}`,
      );
      return;
    }
    const action = readActionParameters(entry.action as Action['action'], entry.parameters, `${path}.parameters`, problems, warnings);
    if (action) actions.push(action);
  });
  return actions;
}

function readActionParameters(action: Action['action'], raw: unknown, path: string, problems: Problems, warnings: string[]): Action | undefined {
  const kind = SPEC_ERRORS.actionParameters;
  if (!isObject(raw) || Object.keys(raw).length === 0) {
    const example = action === 'webhook' ? '{"url": "https://your.webservice.com"}' : '{"listId": "10"}';
    problems.add(kind, path, `${action} needs parameters ${example}`);
    return undefined;
  }
  if (action === 'webhook') {
    const url = raw.url;
    for (const key of Object.keys(raw)) if (key !== 'url' && key !== 'retryWindow') warnings.push(`unknown webhook parameter "${key}" is ignored (${path})`);
    if (typeof url !== 'string' || !parseHttpUrl(url.trim())) {
      problems.add(kind, `${path}.url`, `url must be an absolute http(s) URL such as "https://your.webservice.com", got ${JSON.stringify(url ?? null)}`);
      return undefined;
    }
    if (url.trim().length > LIMITS.url) {
      problems.add(SPEC_ERRORS.saving, `${path}.url`, `url is longer than ${LIMITS.url} characters`);
      return undefined;
    }
    if (raw.retryWindow === undefined) return { action, parameters: { url: url.trim() } };
    const window = parseRetryWindow(raw.retryWindow);
    if ('problem' in window) {
      problems.add(kind, `${path}.retryWindow`, window.problem);
      return undefined;
    }
    return { action, parameters: { url: url.trim(), retryWindow: `PT${window.minutes}M` } };
  }
  // The spec writes this parameter as "listId" in its table and "lead.listId" in an example.
  const plain = raw.listId;
  const dotted = raw['lead.listId'];
  for (const key of Object.keys(raw)) {
    if (key !== 'listId' && key !== 'lead.listId') warnings.push(`unknown lead.update.list parameter "${key}" is ignored (${path})`);
  }
  if (plain !== undefined && dotted !== undefined && plain !== dotted) {
    problems.add(kind, path, `"listId" and "lead.listId" name different lists (${JSON.stringify(plain)} and ${JSON.stringify(dotted)}); give one`);
    return undefined;
  }
  const listId = plain ?? dotted;
  const key = plain !== undefined ? 'listId' : 'lead.listId';
  if (typeof listId !== 'string' || !/^[A-Za-z0-9_-]+$/.test(listId.trim()) || listId.trim().length > LIMITS.listId) {
    problems.add(kind, `${path}.${key}`, `listId must be a list id in quotes such as "10", got ${JSON.stringify(listId ?? null)}`);
    return undefined;
  }
  return { action, parameters: { listId: listId.trim() } };
}

function readConditions(raw: unknown, problems: Problems): Condition[] {
  const kind = SPEC_ERRORS.saving;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    problems.add(kind, 'parameters.conditions', 'conditions must be a list: "conditions": [{"reference": ..., "operator": ..., "value": ...}]');
    return [];
  }
  if (raw.length > LIMITS.conditions) problems.add(kind, 'parameters.conditions', `at most ${LIMITS.conditions} conditions`);
  const conditions: Condition[] = [];
  raw.forEach((entry: unknown, i) => {
    const path = `parameters.conditions[${i}]`;
    if (!isObject(entry)) {
      problems.add(kind, path, 'each condition must be an object: {"reference": ..., "operator": ..., "value": ...}');
      return;
    }
    const { reference, operator, value } = entry;
    let ok = true;
    if (typeof reference === 'string' && reference.length > LIMITS.reference) {
      problems.add(kind, `${path}.reference`, `reference is longer than ${LIMITS.reference} characters`);
      ok = false;
    } else if (typeof reference === 'string' && reference.split('.').length > LIMITS.referenceDepth) {
      problems.add(kind, `${path}.reference`, `reference is deeper than ${LIMITS.referenceDepth} levels`);
      ok = false;
    } else if (typeof reference !== 'string' || !/^[^.\s]+(\.[^.\s]+)*$/.test(reference.trim())) {
      problems.add(kind, `${path}.reference`, 'the condition has no reference; give a payload key in dot notation, e.g. "campaignId" or "lead.totalAttempts"');
      ok = false;
    }
    if (typeof operator !== 'string' || !(OPERATORS as readonly string[]).includes(operator.trim())) {
      problems.add(kind, `${path}.operator`, `unknown operator ${JSON.stringify(operator ?? null)}; use one of ${OPERATORS.map((o) => `"${o}"`).join(', ')}`);
      ok = false;
    }
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
      problems.add(kind, `${path}.value`, 'the condition has no value');
      ok = false;
    } else if (typeof value !== 'string') {
      problems.add(kind, `${path}.value`, `value must be a string in quotes, e.g. "${String(value)}"`);
      ok = false;
    } else if (value.length > LIMITS.value) {
      problems.add(kind, `${path}.value`, `value is longer than ${LIMITS.value} characters`);
      ok = false;
    } else if (operator === 'in' && value.split(',').every((v) => v.trim() === '')) {
      problems.add(kind, `${path}.value`, '"in" needs a comma-separated list of values, e.g. "215,223"');
      ok = false;
    } else if (operator === 'in' && value.split(',').length > LIMITS.inValues) {
      problems.add(kind, `${path}.value`, `"in" takes at most ${LIMITS.inValues} values`);
      ok = false;
    }
    if (ok) conditions.push({ reference: (reference as string).trim(), operator: (operator as string).trim() as Operator, value: value as string });
  });
  return conditions;
}
