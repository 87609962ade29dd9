import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  adt,
  type IdentityHarness,
  identitySnapshot,
  mergeRows,
  registryRecordOf,
  send,
  startIdentity,
  storeStudy,
  studyAnswer,
} from '../../../../test/support/identity-medium.js';
import { type MediumEnv, mediumEnv } from '../../../../test/support/medium.js';

/**
 * Suspicious A40/A47 requests (self-merge, prior unknown, prior already merged elsewhere, inverse
 * of an earlier merge, duplicate) under both VNA_HL7_SUSPICIOUS_MERGE policies: `reject` answers AE
 * with an ERR and keeps nothing; `hold` answers AA, keeps the request for HIM with a merge-review
 * task, and changes nothing else until HIM decides. The registry is never corrupted.
 */

/** Each case: the set-up messages (applied first) and the suspicious request, with the expected code and ERR-3. */
interface Case {
  readonly name: string;
  readonly code: string;
  readonly err: string;
  /** Patients admitted first (id, name). */
  readonly patients: readonly string[];
  /** Merges applied before the suspicious one: [survivor, prior]. */
  readonly earlier?: readonly (readonly [string, string])[];
  readonly request: Buffer | ((p: (id: string) => string) => Buffer);
  readonly kind?: 'merge' | 'change-identifier';
}

function a40(survivor: string, prior: string): Buffer {
  return adt('A40', [`PID|1||${survivor}^^^HOSP^MR||Name^${survivor}`, `MRG|${prior}^^^HOSP^MR`]);
}

function a47(newId: string, oldId: string): Buffer {
  return adt('A47', [`PID|1||${newId}^^^HOSP^MR`, `MRG|${oldId}^^^HOSP^MR`]);
}

/** Cases over identifiers prefixed per policy (so both policies' suites stay independent). */
function cases(p: (id: string) => string): Case[] {
  return [
    { name: 'self-merge (MRG-1 = PID-3)', code: 'self-merge', err: '205', patients: [p('S1')], request: () => a40(p('S1'), p('S1')) },
    {
      name: 'self-merge (two identifiers of one patient)',
      code: 'self-merge',
      err: '205',
      patients: [],
      request: () => a40(p('S2A'), p('S2B')),
    },
    { name: 'prior unknown', code: 'prior-unknown', err: '204', patients: [p('U-SURV')], request: () => a40(p('U-SURV'), p('U-NOBODY')) },
    {
      name: 'prior already merged elsewhere',
      code: 'prior-merged',
      err: '206',
      patients: [p('E-A'), p('E-B'), p('E-C')],
      earlier: [[p('E-B'), p('E-A')]],
      request: () => a40(p('E-C'), p('E-A')),
    },
    {
      name: 'inverse of an earlier merge',
      code: 'inverse',
      err: '206',
      patients: [p('I-A'), p('I-B')],
      earlier: [[p('I-B'), p('I-A')]],
      request: () => a40(p('I-A'), p('I-B')),
    },
    {
      name: 'duplicate of an applied merge',
      code: 'duplicate',
      err: '205',
      patients: [p('D-A'), p('D-B')],
      earlier: [[p('D-B'), p('D-A')]],
      request: () => a40(p('D-B'), p('D-A')),
    },
    { name: 'A47 with an unknown old identifier', code: 'prior-unknown', err: '204', patients: [], request: () => a47(p('C-NEW'), p('C-NOBODY')), kind: 'change-identifier' },
    {
      name: 'A47 to an identifier of another patient',
      code: 'identifier-taken',
      err: '205',
      patients: [p('T-A'), p('T-B')],
      request: () => a47(p('T-B'), p('T-A')),
      kind: 'change-identifier',
    },
  ];
}

async function setUp(h: IdentityHarness, c: Case, p: (id: string) => string): Promise<void> {
  for (const id of c.patients) expect((await send(h, adt('A01', [`PID|1||${id}^^^HOSP^MR||Name^${id}||19800101|F`]))).code).toBe('AA');
  if (c.name.startsWith('self-merge (two')) {
    expect((await send(h, adt('A01', [`PID|1||${p('S2A')}^^^HOSP^MR~${p('S2B')}^^^HOSP^MR||Two^Ids`]))).code).toBe('AA');
  }
  for (const [survivor, prior] of c.earlier ?? []) {
    const ack = await send(h, a40(survivor, prior));
    expect({ code: ack.code, error: ack.error }).toEqual({ code: 'AA', error: undefined });
  }
  // A study for each patient, so that index rows would show a wrong change.
  for (const id of c.patients) await storeStudy(h, { patientId: id, issuer: 'HOSP', name: 'Header^Name' });
}

function request(c: Case, p: (id: string) => string): Buffer {
  return typeof c.request === 'function' ? c.request(p) : c.request;
}

describe('suspicious merges, policy reject', () => {
  let env: MediumEnv;
  let h: IdentityHarness;
  const p = (id: string): string => `RJ-${id}`;

  beforeAll(async () => {
    env = await mediumEnv('identityreject', { VNA_DEFAULT_PATIENT_ID_ISSUER: 'HOSP', VNA_HL7_SUSPICIOUS_MERGE: 'reject' });
    h = await startIdentity(env);
  });

  afterAll(async () => {
    await h?.close();
    await env?.cleanup();
  });

  it.each(cases(p).map((c) => [c.name, c] as const))('%s: AE with an ERR, nothing kept', async (_name, c) => {
    await setUp(h, c, p);
    const before = await identitySnapshot(h);
    const merges = await mergeRows(h);
    const ack = await send(h, request(c, p));
    expect({ code: ack.code, error: ack.error?.code, location: ack.error?.location }).toEqual({ code: 'AE', error: c.err, location: 'MRG^1^1' });
    expect(ack.error?.text).toContain(`(${c.code})`);
    expect(await identitySnapshot(h)).toEqual(before);
    expect(await mergeRows(h)).toEqual(merges);
    expect((await h.db.query(`SELECT count(*)::int AS n FROM reconciliation_task WHERE kind = 'merge-review'`)) as unknown).toEqual([{ n: 0 }]);
    expect((await h.db.query(`SELECT status, error_code FROM hl7_message WHERE control_id = $1`, [ack.acknowledges])) as unknown).toEqual([{ status: 'AE', error_code: c.err }]);
  });

  it('a message with a good and a suspicious pair is refused as a whole', async () => {
    for (const id of ['W-A', 'W-B']) await send(h, adt('A01', [`PID|1||${p(id)}^^^HOSP^MR||Name^${id}`]));
    const before = await identitySnapshot(h);
    const ack = await send(h, adt('A40', [`PID|1||${p('W-B')}^^^HOSP`, `MRG|${p('W-A')}^^^HOSP`, `PID|2||${p('W-B')}^^^HOSP`, `MRG|${p('W-NOBODY')}^^^HOSP`]));
    expect({ code: ack.code, error: ack.error?.code, location: ack.error?.location }).toEqual({ code: 'AE', error: '204', location: 'MRG^2^1' });
    expect(await identitySnapshot(h)).toEqual(before);
  });
});

describe('suspicious merges, policy hold', () => {
  let env: MediumEnv;
  let h: IdentityHarness;
  const p = (id: string): string => `HD-${id}`;

  beforeAll(async () => {
    env = await mediumEnv('identityhold', { VNA_DEFAULT_PATIENT_ID_ISSUER: 'HOSP', VNA_HL7_SUSPICIOUS_MERGE: 'hold' });
    h = await startIdentity(env);
  });

  afterAll(async () => {
    await h?.close();
    await env?.cleanup();
  });

  async function reviewTask(mergeId: string): Promise<{ id: string; status: string; details: Record<string, unknown> } | undefined> {
    const rows = (await h.db.query(`SELECT id::text, status, details FROM reconciliation_task WHERE kind = 'merge-review' AND subject = $1`, [`merge:${mergeId}`])) as {
      id: string;
      status: string;
      details: Record<string, unknown>;
    }[];
    return rows[0];
  }

  it.each(cases(p).map((c) => [c.name, c] as const))('%s: AA, held for review with a task, nothing else changed; applying it is refused unless HIM may overrule', async (_name, c) => {
    await setUp(h, c, p);
    const before = await identitySnapshot(h);
    const ack = await send(h, request(c, p));
    expect({ code: ack.code, error: ack.error }).toEqual({ code: 'AA', error: undefined });
    expect(await identitySnapshot(h)).toEqual(before);
    const [held] = await mergeRows(h);
    expect(held).toMatchObject({ status: 'held', suspicion_code: c.code, kind: c.kind ?? 'merge' });
    const task = await reviewTask(held!.id);
    expect(task).toMatchObject({ id: held!.task_fk, status: 'open', details: { suspicion: c.code, mergeId: held!.id } });

    // HIM applies it: only an unknown prior of a merge may be overruled; the others stay held, nothing changes.
    const overrulable = c.code === 'prior-unknown' && (c.kind ?? 'merge') === 'merge';
    if (!overrulable) {
      await expect(h.merges.applyHeld(held!.id, 'him.user', 'looks fine')).rejects.toMatchObject({ kind: 'conflict' });
      expect(await identitySnapshot(h)).toEqual(before);
      expect((await mergeRows(h))[0]).toMatchObject({ id: held!.id, status: 'held' });
      // HIM rejects it: closed with who and why, the task too, nothing else changes.
      const rejected = await h.reconciliation.dismiss(task!.id, { user: 'him.user', reason: 'not a merge' });
      expect(rejected).toMatchObject({ status: 'dismissed', closedBy: 'him.user', resolution: { reason: 'not a merge', mergeStatus: 'rejected' } });
      expect((await mergeRows(h))[0]).toMatchObject({ id: held!.id, status: 'rejected' });
      expect(await identitySnapshot(h)).toEqual(before);
    }
  });

  it('HIM accepting a held merge of an unknown prior applies it: objects received with the prior identifier follow the survivor; unmerge reverses it', async () => {
    await send(h, adt('A01', [`PID|1||${p('K-SURV')}^^^HOSP^MR||Kept^Survivor||19700101|M`]));
    const priorStudy = await storeStudy(h, { patientId: p('K-GHOST'), issuer: 'HOSP', name: 'Ghost^Header' });
    const before = await identitySnapshot(h);
    const ack = await send(h, adt('A40', [`PID|1||${p('K-SURV')}^^^HOSP^MR`, `MRG|${p('K-GHOST')}^^^HOSP^MR||||||Ghost^Prior`]));
    expect(ack.code).toBe('AA');
    const [held] = await mergeRows(h);
    expect(held).toMatchObject({ status: 'held', suspicion_code: 'prior-unknown' });
    expect(await identitySnapshot(h)).toEqual(before);

    const task = await h.reconciliation.accept(held!.task_fk!, { user: 'him.user', reason: 'confirmed by ward' });
    expect(task).toMatchObject({ status: 'accepted', closedBy: 'him.user', resolution: { reason: 'confirmed by ward', mergeStatus: 'applied' } });
    expect((await mergeRows(h))[0]).toMatchObject({ id: held!.id, status: 'applied' });
    expect(await registryRecordOf(h, p('K-GHOST'), 'HOSP')).toMatchObject({ status: 'merged', name_alphabetic: 'Ghost^Prior' });
    expect(await studyAnswer(h, priorStudy.studyUid)).toMatchObject({ patientId: p('K-SURV'), name: 'Kept^Survivor', sex: 'M' });
    // The unknown-patient question of that study was answered by the merge.
    const tasks = (await h.db.query(`SELECT status FROM reconciliation_task WHERE kind = 'unknown-patient' AND subject = $1`, [`patient:HOSP|${p('K-GHOST')}`])) as {
      status: string;
    }[];
    expect(tasks).toEqual([{ status: 'resolved' }]);

    await h.merges.unmerge(held!.id, 'him.user', 'wrong after all');
    const after = await identitySnapshot(h);
    expect({ ...after, registry: after.registry.filter((r) => (r as { status: string }).status !== 'void') }).toEqual(before);
    expect(await studyAnswer(h, priorStudy.studyUid)).toMatchObject({ patientId: p('K-GHOST'), name: 'Ghost^Header' });
  });

  it('HIM may overrule a merge into a survivor that was itself merged: the prior follows the end of the chain; unmerge reverses it', async () => {
    for (const id of ['V-A', 'V-B', 'V-C']) await send(h, adt('A01', [`PID|1||${p(id)}^^^HOSP^MR||Name^${id}`]));
    expect((await send(h, adt('A40', [`PID|1||${p('V-C')}^^^HOSP^MR`, `MRG|${p('V-B')}^^^HOSP^MR`]))).code).toBe('AA');
    const study = await storeStudy(h, { patientId: p('V-A'), issuer: 'HOSP', name: 'Header^Name' });
    const before = await identitySnapshot(h);
    // V-A into V-B, which is already merged into V-C.
    expect((await send(h, adt('A40', [`PID|1||${p('V-B')}^^^HOSP^MR`, `MRG|${p('V-A')}^^^HOSP^MR`]))).code).toBe('AA');
    const [held] = await mergeRows(h);
    expect(held).toMatchObject({ status: 'held', suspicion_code: 'survivor-merged' });
    expect(await identitySnapshot(h)).toEqual(before);
    await h.merges.applyHeld(held!.id, 'him.user', 'V-B is V-C now');
    const c = (await registryRecordOf(h, p('V-C'), 'HOSP'))!;
    expect(await registryRecordOf(h, p('V-A'), 'HOSP')).toMatchObject({ status: 'merged', merged_into: c.id });
    expect(await studyAnswer(h, study.studyUid)).toMatchObject({ patientId: p('V-C'), name: `Name^V-C` });
    await h.merges.unmerge(held!.id, 'him.user', 'undo');
    expect(await identitySnapshot(h)).toEqual(before);
  });

  it('HIM may overrule an A47 back to an identifier the patient had before (inverse): it becomes active again; unmerge reverses it', async () => {
    await send(h, adt('A01', [`PID|1||${p('X-OLD')}^^^HOSP^MR||Name^X`]));
    const study = await storeStudy(h, { patientId: p('X-OLD'), issuer: 'HOSP', name: 'Header^Name' });
    expect((await send(h, adt('A47', [`PID|1||${p('X-NEW')}^^^HOSP^MR`, `MRG|${p('X-OLD')}^^^HOSP^MR`]))).code).toBe('AA');
    expect(await studyAnswer(h, study.studyUid)).toMatchObject({ patientId: p('X-NEW') });
    const before = await identitySnapshot(h);
    expect((await send(h, adt('A47', [`PID|1||${p('X-OLD')}^^^HOSP^MR`, `MRG|${p('X-NEW')}^^^HOSP^MR`]))).code).toBe('AA');
    const [held] = await mergeRows(h);
    expect(held).toMatchObject({ kind: 'change-identifier', status: 'held', suspicion_code: 'inverse' });
    await h.merges.applyHeld(held!.id, 'him.user', 'the old identifier was right');
    expect(await studyAnswer(h, study.studyUid)).toMatchObject({ patientId: p('X-OLD') });
    const statuses = (await h.db.query(`SELECT patient_id, status FROM registry_identifier WHERE patient_id LIKE $1 ORDER BY patient_id DESC`, [`${p('X-')}%`])) as unknown[];
    expect(statuses).toEqual([
      { patient_id: p('X-OLD'), status: 'active' },
      { patient_id: p('X-NEW'), status: 'replaced' },
    ]);
    await h.merges.unmerge(held!.id, 'him.user', 'undo');
    expect(await identitySnapshot(h)).toEqual(before);
  });

  it('a held merge applied through the merges API is the same as accepting its task; a decided one cannot be decided again', async () => {
    await send(h, adt('A01', [`PID|1||${p('L-SURV')}^^^HOSP^MR||Later^Survivor`]));
    await send(h, adt('A40', [`PID|1||${p('L-SURV')}^^^HOSP^MR`, `MRG|${p('L-GHOST')}^^^HOSP^MR`]));
    const [held] = await mergeRows(h);
    const applied = await h.merges.applyHeld(held!.id, 'him.user', 'checked');
    expect(applied).toMatchObject({ status: 'applied', appliedBy: 'him.user', applyReason: 'checked' });
    expect(await reviewTask(held!.id)).toMatchObject({ status: 'accepted' });
    await expect(h.merges.applyHeld(held!.id, 'him.user', 'again')).rejects.toMatchObject({ kind: 'conflict' });
    await expect(h.merges.reject(held!.id, 'him.user', 'too late')).rejects.toMatchObject({ kind: 'conflict' });
    await expect(h.reconciliation.dismiss(held!.task_fk!, { user: 'him.user', reason: 'too late' })).rejects.toMatchObject({ kind: 'conflict' });
  });
  it('deciding one held merge through its task and through the merges API at the same time: one wins, the other is a conflict', async () => {
    for (let n = 0; n < 5; n++) {
      await send(h, adt('A01', [`PID|1||${p(`Z-SURV-${n}`)}^^^HOSP^MR||Race^Survivor`]));
      await send(h, adt('A40', [`PID|1||${p(`Z-SURV-${n}`)}^^^HOSP^MR`, `MRG|${p(`Z-GHOST-${n}`)}^^^HOSP^MR`]));
      const [held] = await mergeRows(h);
      expect(held).toMatchObject({ status: 'held', suspicion_code: 'prior-unknown' });
      const outcomes = await Promise.allSettled([
        h.reconciliation.accept(held!.task_fk!, { user: 'him.one', reason: 'via task' }),
        h.merges.applyHeld(held!.id, 'him.two', 'via merges'),
      ]);
      const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as { kind?: string });
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ kind: 'conflict' });
      expect((await mergeRows(h))[0]).toMatchObject({ id: held!.id, status: 'applied' });
      expect(await reviewTask(held!.id)).toMatchObject({ status: 'accepted' });
    }
  });
});
