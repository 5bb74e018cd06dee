import { IS_OPTIONAL, ValidationTypes, getMetadataStorage } from 'class-validator';

/*
 * Two gaps between JSON input and class-validator DTOs, closed here for every
 * payload class so handler authors need not remember them:
 *
 * - @IsOptional() skips the field's rules for null as well as for absence, so
 *   `{"steps": null}` would be stored and run as null. Null for an optional
 *   field is taken as absent instead: the class's default, or no key.
 * - class-transformer does not copy keys that name something inherited
 *   (`constructor`, `toString`, `__proto__`…), so the whitelist never sees
 *   them and they vanish silently instead of being refused like any other
 *   unknown key.
 */

type Node = Record<string, unknown>;
type Dto = Node & { constructor: new () => Node };

const isPlainObject = (v: unknown): v is Node =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/** An instance class-transformer made of a payload class (top level or nested with @Type). */
function isDto(v: unknown): v is Dto {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto !== Object.prototype && proto !== null && typeof (v as Dto).constructor === 'function';
}

/** Calls `visit` on every DTO instance of the tree, with the plain input it was made from. */
function walk(
  plain: unknown,
  instance: unknown,
  path: string,
  visit: (p: unknown, d: Dto, path: string) => void,
) {
  if (Array.isArray(instance)) {
    const items = Array.isArray(plain) ? plain : [];
    instance.forEach((item, i) => walk(items[i], item, `${path}.${i}`, visit));
    return;
  }
  if (!isDto(instance)) return;
  visit(plain, instance, path);
  const source = isPlainObject(plain) ? plain : {};
  for (const key of Object.keys(instance)) walk(source[key], instance[key], `${path}.${key}`, visit);
}

/** `path.key: property key should not exist` for the first inherited-name key the instance lost, else null. */
export function droppedKey(plain: unknown, instance: unknown, path: string): string | null {
  let problem: string | null = null;
  walk(plain, instance, path, (p, dto, here) => {
    if (problem || !isPlainObject(p)) return;
    // Only the keys that name something inherited: any other unknown key is
    // the whitelist's to refuse, and keys class-transformer renames
    // (@Expose({name}), @Transform) are not lost at all.
    const lost = Object.keys(p).find(
      (k) => k === '__proto__' || (k in dto && !Object.prototype.hasOwnProperty.call(dto, k)),
    );
    if (lost !== undefined) problem = `${here}.${lost}: property ${lost} should not exist`;
  });
  return problem;
}

function optionalFields(cls: Dto['constructor']): string[] {
  return getMetadataStorage()
    .getTargetValidationMetadatas(cls, '', false, false)
    .filter((m) => m.type === ValidationTypes.CONDITIONAL_VALIDATION && m.name === IS_OPTIONAL)
    .map((m) => m.propertyName);
}

/** Replaces null in every @IsOptional field with the class's default, or removes the key when it has none. */
export function nullsAsAbsent(instance: unknown): void {
  walk(undefined, instance, '', (_, dto) => {
    let defaults: Node | undefined;
    for (const field of optionalFields(dto.constructor)) {
      if (dto[field] !== null) continue;
      defaults ??= new dto.constructor();
      if (defaults[field] === undefined) delete dto[field];
      else dto[field] = defaults[field];
    }
  });
}
