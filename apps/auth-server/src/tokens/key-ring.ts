import { createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { Clock } from '../clock.js';
import type { AuthStore } from '../store/auth-store.js';
import type { ServerKeyRecord } from '../store/schema.js';
import type { KeyFileContents } from './key-material.js';
import { keyId, Sealer, type Sealing } from './sealing.js';

export interface SigningKey {
  kid: string;
  generation: number;
  activatesAt: number;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK & { kid: string; kty: string };
}

interface SealingKey {
  generation: number;
  activatesAt: number;
  key: Buffer;
}

export interface KeyRingOptions {
  /**
   * AUTH_KEY_ENCRYPTION_SECRET: when set, new keys are stored sealed under a
   * key derived from it, and sealed keys need it to open.
   */
  encryptionSecret?: string | undefined;
  /** How long after a successor activates a signing key stays published: the longest access token lifetime, and a margin for clock skew. */
  publishOverlapMs: number;
  /** How often every instance reads the keys again, to take up a rotation. */
  refreshMs: number;
  /** The keys of a release that kept them in a file, for the first generation. */
  legacyKeys?: KeyFileContents | undefined;
  /**
   * With a secret set, keys stored in the clear (from before the secret) are
   * sealed under it (`pnpm migrate`). Otherwise, such keys are refused: a
   * row in the clear could have been planted by whoever can write to the
   * database.
   */
  sealPlainKeys?: boolean;
}

/** A key id that is not in the ring is looked up in the database at most this often: forged ids cannot flood it. */
const MISS_RELOAD_INTERVAL_MS = 1_000;

/**
 * The server's keys, kept in the database so that every instance signs,
 * verifies, seals and opens alike. Each kind has generations: the first is
 * made by whichever instance starts first (or `pnpm migrate`), and each
 * rotation adds the next, published at once and used from its activation
 * time, so that every instance and every verifier caching the JWKS has it
 * before anything is signed with it. A signing key stays published until
 * the last token it signed has expired, or until it is retired (it leaked):
 * then it is dropped at the next read of the keys. Sealing keys stay to open
 * what they sealed.
 */
export class KeyRing {
  #signing: SigningKey[] = [];
  #sealing: SealingKey[] = [];
  #sealer: Sealer | undefined;
  #sealerGeneration = -1;
  #sealerKeyCount = 0;
  #loadedAt = 0;
  #missReloadAt = 0;
  #reloading: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly store: AuthStore,
    private readonly clock: Clock,
    private readonly options: KeyRingOptions,
  ) {}

  /** Reads the keys, creating the first generation if there is none yet. */
  static async open(store: AuthStore, clock: Clock, options: KeyRingOptions): Promise<KeyRing> {
    await ensureFirstGeneration(store, clock, options.encryptionSecret, options.legacyKeys);
    if (options.encryptionSecret && options.sealPlainKeys) await sealPlainKeys(store, options.encryptionSecret);
    const ring = new KeyRing(store, clock, options);
    await ring.reload();
    return ring;
  }

  /** Reads the keys again on a schedule, to take up rotations made elsewhere. */
  startRefreshing(onError: (error: unknown) => void): void {
    this.#timer = setInterval(() => this.reload().catch(onError), this.options.refreshMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async reload(): Promise<void> {
    this.#reloading ??= (async () => {
      try {
        // MUST (RFC 9068 §4: a resource server trusts the keys the authorization server provides): a retired
        // key is neither published nor trusted, and the tokens it signed, verified before or not, with it.
        const rows = (await this.store.listServerKeys()).filter((row) => row.retiredAt === null);
        const unseal = unsealer(this.options.encryptionSecret);
        const plain = this.options.encryptionSecret ? rows.filter((row) => row.material.startsWith('plain:')) : [];
        if (plain.length > 0) {
          throw new Error(
            `AUTH_KEY_ENCRYPTION_SECRET is set, but server keys ${plain.map((row) => row.id).join(', ')} are stored in the clear: run \`pnpm migrate\` with the secret to seal them`,
          );
        }
        this.#signing = rows.filter((row) => row.kind === 'signing').map((row) => signingKeyFrom(row, unseal(row)));
        this.#sealing = rows
          .filter((row) => row.kind === 'sealing')
          .map((row) => ({ generation: row.generation, activatesAt: row.activatesAt, key: Buffer.from(unseal(row), 'base64url') }));
        this.#loadedAt = this.clock.now();
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  /** The key that signs now: the newest generation that has activated. */
  signingKey(): SigningKey {
    return current(this.#signing, this.clock.now());
  }

  /** The keys published at /.well-known/jwks.json: the current one, those about to be used, and those whose tokens may still be live. */
  publishedKeys(): SigningKey[] {
    const now = this.clock.now();
    const inUse = current(this.#signing, now);
    return this.#signing.filter((key) => {
      if (key.generation >= inUse.generation) return true;
      const successor = this.#signing.find((other) => other.generation > key.generation && other.activatesAt <= now);
      return !successor || now < successor.activatesAt + this.options.publishOverlapMs;
    });
  }

  /** The published key with this id; a key id not seen yet may be a rotation made on another instance, so the keys are read again. */
  async verificationKey(kid: string): Promise<KeyObject | undefined> {
    const find = () => this.publishedKeys().find((key) => key.kid === kid)?.publicKey;
    const found = find();
    if (found) return found;
    await this.#reloadOnMiss();
    return find();
  }

  /** Reads the keys again for an id not seen yet; at most once a second, whether the last attempt worked or not. */
  async #reloadOnMiss(): Promise<void> {
    const now = this.clock.now();
    if (now - this.#missReloadAt < MISS_RELOAD_INTERVAL_MS) return;
    this.#missReloadAt = now;
    await this.reload();
  }

  /**
   * Retires a leaked signing key (`retireSigningKey`) and reads the keys
   * again: this instance neither publishes nor trusts it from now on; the
   * others, from their next read of the keys.
   */
  async retire(kid: string): Promise<RetiredKey> {
    const retired = await retireSigningKey(this.store, this.clock, kid);
    await this.reload();
    return retired;
  }

  /** True when the keys could not be read for three refresh intervals: this instance may miss a rotation. */
  isStale(): boolean {
    return this.clock.now() - this.#loadedAt > 3 * this.options.refreshMs;
  }

  /**
   * Seals with the current sealing key; opens with any. A value sealed under
   * a key this instance has not read yet (another instance took up a
   * rotation first) makes it read the keys again.
   */
  readonly sealing: Sealing = {
    seal: (plaintext, associatedData) => this.#currentSealer().seal(plaintext, associatedData),
    open: async (sealed, associatedData) => {
      if (!this.#currentSealer().knowsKeyOf(sealed)) await this.#reloadOnMiss();
      return this.#currentSealer().open(sealed, associatedData);
    },
  };

  #currentSealer(): Sealer {
    const inUse = current(this.#sealing, this.clock.now());
    if (!this.#sealer || this.#sealerGeneration !== inUse.generation || this.#sealing.length !== this.#sealerKeyCount) {
      this.#sealer = new Sealer(
        inUse.key,
        this.#sealing.filter((key) => key !== inUse).map((key) => key.key),
      );
      this.#sealerGeneration = inUse.generation;
      this.#sealerKeyCount = this.#sealing.length;
    }
    return this.#sealer;
  }
}

/** The newest generation active at `now`; before any has activated, the first. */
function current<K extends { generation: number; activatesAt: number }>(keys: K[], now: number): K {
  const active = keys.filter((key) => key.activatesAt <= now);
  const key = (active.length > 0 ? active : keys).reduce<K | undefined>((newest, each) => (!newest || each.generation > newest.generation ? each : newest), undefined);
  if (!key) throw new Error('The key ring holds no key of this kind');
  return key;
}

export type KeyKind = ServerKeyRecord['kind'];

/**
 * Adds the next generation of each kind, published now and used from
 * `activateInMs` on. Of two rotations at once, one wins; the other is
 * told. Returns the new keys' ids.
 */
export async function rotateKeys(
  store: AuthStore,
  clock: Clock,
  options: { kinds: KeyKind[]; activateInMs: number; encryptionSecret?: string | undefined },
): Promise<{ kind: KeyKind; id: string; generation: number; activatesAt: number }[]> {
  const existing = await store.listServerKeys();
  const now = clock.now();
  const rotated = [];
  for (const kind of options.kinds) {
    const generation = Math.max(0, ...existing.filter((row) => row.kind === kind).map((row) => row.generation)) + 1;
    const row = newKeyRow(kind, generation, now, now + options.activateInMs, options.encryptionSecret);
    if (!(await store.insertServerKey(row))) throw new Error(`Another rotation added ${kind} key generation ${generation} first`);
    rotated.push({ kind, id: row.id, generation, activatesAt: row.activatesAt });
  }
  return rotated;
}

/** A retirement the keys do not allow; its message tells the operator why, and what to do instead. */
export class KeyRetirementRefused extends Error {
  override name = 'KeyRetirementRefused';
}

export interface RetiredKey {
  id: string;
  generation: number;
  retiredAt: number;
  /** The key was retired before (by an earlier run, or another at once): nothing changed. */
  alreadyRetired: boolean;
  /** The key that signs after the retirement. */
  signingKeyId: string;
}

/**
 * Retires a signing key that leaked: it is taken out of the JWKS and out of
 * verification, on each instance at its next read of the keys, and its
 * material is erased. Refused (`KeyRetirementRefused`) for an unknown id, a
 * sealing key, and the key that signs now: a newer key must sign first
 * (`rotateKeys` with `activateInMs: 0`), so that retiring never brings an
 * older key back into use.
 */
export async function retireSigningKey(store: AuthStore, clock: Clock, kid: string): Promise<RetiredKey> {
  const now = clock.now();
  const check = async () => {
    const rows = await store.listServerKeys();
    return { row: requireRetirable(rows, kid, now), signingKeyId: signingKeyAfter(rows, kid, now) };
  };
  let { row, signingKeyId } = await check();
  if (row.retiredAt === null) {
    if (await store.retireSigningKey(kid, now)) return { id: kid, generation: row.generation, retiredAt: now, alreadyRetired: false, signingKeyId };
    // The keys changed between the check and the update (another retirement or rotation at once): judged again on what is there now.
    ({ row, signingKeyId } = await check());
    if (row.retiredAt === null) throw new Error(`Signing key ${kid} could not be retired: the keys changed meanwhile; run the command again`);
  }
  return { id: kid, generation: row.generation, retiredAt: row.retiredAt, alreadyRetired: true, signingKeyId };
}

/** The key's row, when it may be retired or already is; otherwise `KeyRetirementRefused`, saying why and what to do. */
function requireRetirable(rows: ServerKeyRecord[], kid: string, now: number): ServerKeyRecord {
  const row = rows.find((each) => each.id === kid);
  const signing = rows.filter((each) => each.kind === 'signing' && each.retiredAt === null);
  if (!row) {
    throw new KeyRetirementRefused(`There is no key ${kid}. The signing keys not retired: ${signing.map((each) => `${each.id} (generation ${each.generation})`).join(', ')}`);
  }
  if (row.kind === 'sealing') {
    throw new KeyRetirementRefused(
      `Key ${kid} is a sealing key, and sealing keys are not retired: each opens only what it sealed itself (refresh grace grants, stored idempotent responses), so retiring it would make nothing it sealed secret again, only unreadable to the server. If it leaked, run \`pnpm rotate-keys --kind sealing --activate-in 0\`: nothing is sealed under it from then on, and what it sealed expires with the idempotency retention (24 hours by default).`,
    );
  }
  if (row.retiredAt !== null) return row;
  const inUse = current(signing, now);
  if (inUse.id === kid) {
    throw new KeyRetirementRefused(
      `Signing key ${kid} signs now, and no newer key would sign instead: run \`pnpm rotate-keys --kind signing --activate-in 0\` first, then retire ${kid}.`,
    );
  }
  return row;
}

/** The id of the key that signs at `now` once `kid` is retired. */
function signingKeyAfter(rows: ServerKeyRecord[], kid: string, now: number): string {
  return current(rows.filter((row) => row.kind === 'signing' && row.retiredAt === null && row.id !== kid), now).id;
}

/** Seals, under the secret, every key stored in the clear; a row changed meanwhile by another run is left to it. */
async function sealPlainKeys(store: AuthStore, secret: string): Promise<void> {
  for (const row of await store.listServerKeys()) {
    if (row.retiredAt !== null || !row.material.startsWith('plain:')) continue;
    await store.replaceServerKeyMaterial(row.id, row.material, sealMaterial(row.material.slice('plain:'.length), row, secret));
  }
}

/** Creates the first generation of each kind that has none; of instances that start at once, the first insert wins and all read it. */
async function ensureFirstGeneration(store: AuthStore, clock: Clock, secret: string | undefined, legacy: KeyFileContents | undefined): Promise<void> {
  const existing = await store.listServerKeys();
  const now = clock.now();
  for (const kind of ['signing', 'sealing'] as const) {
    if (existing.some((row) => row.kind === kind)) continue;
    await store.insertServerKey(newKeyRow(kind, 1, now, now, secret, legacy));
  }
}

function newKeyRow(kind: KeyKind, generation: number, now: number, activatesAt: number, secret: string | undefined, legacy?: KeyFileContents): ServerKeyRecord {
  let id: string;
  let material: string;
  if (kind === 'signing') {
    const jwk = legacy?.signing_jwk ?? { ...(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK), kid: `ed25519-${randomBytes(6).toString('hex')}` };
    id = jwk.kid;
    material = JSON.stringify(jwk);
  } else {
    const key = legacy ? Buffer.from(legacy.encryption_key, 'base64url') : randomBytes(32);
    id = keyId(key);
    material = key.toString('base64url');
  }
  const row = { id, kind, generation, createdAt: now, activatesAt };
  return { ...row, material: sealMaterial(material, row, secret), retiredAt: null };
}

function signingKeyFrom(row: ServerKeyRecord, material: string): SigningKey {
  const privateKey = createPrivateKey({ key: JSON.parse(material) as never, format: 'jwk' });
  const publicKey = createPublicKey(privateKey);
  const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
  return {
    kid: row.id,
    generation: row.generation,
    activatesAt: row.activatesAt,
    privateKey,
    publicKey,
    publicJwk: { ...publicJwk, kty: publicJwk.kty!, kid: row.id, alg: 'EdDSA', use: 'sig' },
  };
}

/** The key that seals stored keys: HKDF-SHA-256 of the secret, so that any long random secret will do. */
function secretSealer(secret: string): Sealer {
  return new Sealer(Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'aimable-auth', 'server-keys', 32)));
}

/** What a sealed key is bound to: its id, kind, generation and activation, so that none can be changed without the secret. */
function keyBinding(row: Omit<ServerKeyRecord, 'material' | 'createdAt' | 'retiredAt'>): string {
  return `server-key:${row.id}:${row.kind}:${row.generation}:${row.activatesAt}`;
}

function sealMaterial(material: string, row: Omit<ServerKeyRecord, 'material' | 'createdAt' | 'retiredAt'>, secret: string | undefined): string {
  return secret ? `sealed:${secretSealer(secret).seal(material, keyBinding(row))}` : `plain:${material}`;
}

function unsealer(secret: string | undefined): (row: ServerKeyRecord) => string {
  const sealer = secret ? secretSealer(secret) : undefined;
  return (row) => {
    if (row.material.startsWith('plain:')) return row.material.slice('plain:'.length);
    if (!row.material.startsWith('sealed:')) throw new Error(`Server key ${row.id} is stored in an unknown format`);
    if (!sealer) throw new Error('The server keys are encrypted: set AUTH_KEY_ENCRYPTION_SECRET to the secret they were stored with');
    try {
      return sealer.open(row.material.slice('sealed:'.length), keyBinding(row));
    } catch {
      throw new Error(`AUTH_KEY_ENCRYPTION_SECRET does not open server key ${row.id}: it was stored under another secret`);
    }
  };
}
