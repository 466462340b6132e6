/** A parsed JSON object (or any plain record) whose fields are still to be checked. */
export type Rec = Record<string, unknown>;

/** True for a non-null, non-array object: the one shape check every parser here starts from. */
export const isObj = (x: unknown): x is Rec => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A non-empty string, else `undefined`: an empty id or name says nothing. */
export const str = (x: unknown): string | undefined =>
  typeof x === 'string' && x.length > 0 ? x : undefined;

/** An array as is, anything else as no items. */
export const arr = (x: unknown): readonly unknown[] => (Array.isArray(x) ? x : []);
