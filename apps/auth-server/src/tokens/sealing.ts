import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { secureRandomBytes } from '../ids.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM for data at rest that holds tokens (grace grants, stored
 * idempotent responses). A sealed value names the key that sealed it
 * (`v2.<key id>.<iv | tag | ciphertext>`), so that values sealed under an
 * earlier key still open once a new one is in use. The associated data
 * binds a sealed value to its row, so a value copied to another row does
 * not open.
 */
/** What services need of a sealer: the key ring's, which opens what any instance sealed, also under a key it has yet to read. */
export interface Sealing {
  seal(plaintext: string, associatedData: string): string;
  open(sealed: string, associatedData: string): string | Promise<string>;
}

export class Sealer {
  readonly #current: { id: string; key: Buffer };
  readonly #byId: Map<string, Buffer>;

  /** `key` seals; `previousKeys` only open what they sealed before. */
  constructor(key: Buffer, previousKeys: Buffer[] = []) {
    for (const each of [key, ...previousKeys]) if (each.length !== 32) throw new Error('AES-256-GCM needs a 32-byte key');
    this.#current = { id: keyId(key), key };
    this.#byId = new Map([...previousKeys, key].map((each) => [keyId(each), each]));
  }

  seal(plaintext: string, associatedData: string): string {
    // A fresh random 96-bit IV for every value: GCM must never see one twice under a key.
    const iv = secureRandomBytes(IV_BYTES);
    // Stryker disable next-line ObjectLiteral: GCM's tag is 16 bytes by default; the option states it
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(associatedData));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v2.${this.#current.id}.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}`;
  }

  /** Whether this sealer holds the key a sealed value names (it may still fail to open, if tampered with). */
  knowsKeyOf(sealed: string): boolean {
    const [version, id, payload] = sealed.split('.');
    return version === 'v1' || (version === 'v2' && id !== undefined && payload !== undefined && this.#byId.has(id));
  }

  /** Throws when the value was tampered with, or sealed for other associated data or with an unknown key. */
  open(sealed: string, associatedData: string): string {
    const [version, ...rest] = sealed.split('.');
    // v1 values, from before key ids, were sealed with the key in use then.
    // Stryker disable next-line ArrayDeclaration: an unknown format yields no payload either way, and is refused
    const [id, payload] = version === 'v1' && rest.length === 1 ? [this.#current.id, rest[0]] : version === 'v2' && rest.length === 2 ? rest : [];
    const key = id && this.#byId.get(id);
    if (!key || !payload) throw new Error('Unknown sealed value format or key');
    const bytes = Buffer.from(payload, 'base64url');
    // The tag length is pinned: a shortened tag would be accepted otherwise, and forged more easily.
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error('Sealed value too short');
    // The tag handed over is always 16 bytes (sliced above); authTagLength states it to the cipher as well.
    // Stryker disable next-line ObjectLiteral: see above
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}

/** A key's public name: the first 8 bytes of its SHA-256, which reveal nothing usable about it. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('aimable-sealing-key-id').update(key).digest('base64url').slice(0, 11);
}
