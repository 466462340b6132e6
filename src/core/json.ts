/** A parsed JSON object (or any plain record) whose fields are still to be checked. */
export type Rec = Record<string, unknown>;

/** True for a non-null, non-array object: the one shape check every parser here starts from. */
export const isObj = (x: unknown): x is Rec => typeof x === 'object' && x !== null && !Array.isArray(x);
