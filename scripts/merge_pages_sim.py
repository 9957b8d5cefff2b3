#!/usr/bin/env python3
"""Replays a merge's writes (the statements rapport-sqlite's writer issues) on a copy of the
merge bench's database and prints the WAL frames (pages) written per commit, for variants.

Get a database: run the merge bench with TMPDIR=/tmp/mtmp and, once it prints its summary
line, copy /tmp/mtmp/.tmp*/m.db* somewhere (opening the copy once folds its WAL in). Then:

    scripts/merge_pages_sim.py COPY.db current|one_message|no_record|rowid|rowid1|apply

Each variant works on its own copy under /tmp/msim. `rowid*` rebuild the outbox and merge
record tables as rowid tables; `one_message`/`rowid1` write one outbox message per merge
instead of four; `apply` replays one-customer updates with no message and with one.
"""
import os, shutil, sqlite3, sys, uuid
SRC = sys.argv[1]

def fresh(name):
    d = f'/tmp/msim/{name}.db'
    for s in ('', '-wal', '-shm'):
        if os.path.exists(d + s): os.remove(d + s)
    shutil.copy(SRC, d)
    c = sqlite3.connect(d, isolation_level=None)
    c.execute('pragma wal_checkpoint(TRUNCATE)')
    c.execute('pragma wal_autocheckpoint=0')
    return c, d

def rowid_table(c, table, pk_cols):
    sql = c.execute("select sql from sqlite_schema where name=?", (table,)).fetchone()[0]
    idx = [r[0] for r in c.execute("select sql from sqlite_schema where tbl_name=? and type='index' and sql is not null", (table,))]
    new = sql.replace(') WITHOUT ROWID', ', UNIQUE (' + pk_cols + '))').replace('PRIMARY KEY (' + pk_cols + ')', 'CHECK (1)')
    new = new.replace('CREATE TABLE ' + table, 'CREATE TABLE tmp_' + table)
    c.execute('begin'); c.execute(new)
    c.execute(f'insert into tmp_{table} select * from {table}')
    c.execute(f'drop table {table}'); c.execute(f'alter table tmp_{table} rename to {table}')
    for s in idx: c.execute(s)
    c.execute('commit'); c.execute('pragma wal_checkpoint(TRUNCATE)')

def run(c, d, messages=4, n=300, record=True):
    pairs = c.execute("""select a.customer_id, b.customer_id, a.customer_json, a.stats_json, b.customer_json
        from rapport_customers a join rapport_customers b on b.rowid = a.rowid + 1
        where a.stage != 'merged' and b.stage != 'merged' and a.email is not null and b.email is not null
        and (select count(*) from rapport_activities x where x.customer_id = b.customer_id) = 2
        limit ?""", (2 * n,)).fetchall()[::2][:n]
    rec = c.execute('select record_json from rapport_merges limit 1').fetchone()[0]
    msg = c.execute('select message_json from rapport_outbox limit 1').fetchone()[0]
    t = c.execute('select tenant_id from rapport_customers limit 1').fetchone()[0]
    seq = c.execute('select max(seq) from rapport_outbox').fetchone()[0]
    frames = []
    for i, (s, l, sj, ss, lj) in enumerate(pairs):
        before = os.path.getsize(d + '-wal')
        c.execute('begin immediate')
        c.execute("update rapport_customers set version=version+1, stage='merged', merged_into=?, email=NULL, customer_json=? where tenant_id=? and customer_id=?", (s, lj, t, l))
        c.execute("update rapport_customers set version=version+1, stage='active', customer_json=?, stats_json=?, orders=4 where tenant_id=? and customer_id=?", (sj, ss, t, s))
        for (k, aj) in c.execute('select idempotency_key, activity_json from rapport_activities where tenant_id=? and customer_id=?', (t, l)).fetchall():
            c.execute('update rapport_activities set customer_id=?, activity_json=? where tenant_id=? and idempotency_key=?', (s, aj, t, k))
        if record:
            c.execute('insert into rapport_merges (tenant_id, merge_id, survivor_id, loser_id, at_us, record_json) values (?,?,?,?,?,?)',
                      (t, uuid.UUID(int=10**9 + i).bytes, s, l, 0, rec))
        for m in range(messages):
            seq += 1
            c.execute('insert into rapport_outbox (tenant_id, message_id, seq, occurred_at_us, attempts, available_at_us, message_json) values (?,?,?,?,?,?,?)',
                      (t, uuid.UUID(int=2 * 10**9 + seq).bytes, seq, 0, 0, -2**63, msg))
        c.execute('commit')
        frames.append((os.path.getsize(d + '-wal') - before) / (8192 + 24))
    return sum(frames) / len(frames), len(frames)

variant = sys.argv[2]
os.makedirs('/tmp/msim', exist_ok=True)
c, d = fresh(variant)
if variant in ('rowid', 'rowid1'):
    rowid_table(c, 'rapport_outbox', 'tenant_id, message_id')
    rowid_table(c, 'rapport_merges', 'tenant_id, merge_id')
msgs = 1 if variant in ('one_message', 'rowid1') else 4
if variant != 'apply': print(variant, run(c, d, messages=msgs, record=(variant != 'no_record')))

def apply_run(c, d, messages, n=300):
    ids = c.execute("select customer_id from rapport_customers where stage != 'merged' limit ?", (n,)).fetchall()
    msg = c.execute('select message_json from rapport_outbox limit 1').fetchone()[0]
    t = c.execute('select tenant_id from rapport_customers limit 1').fetchone()[0]
    seq = c.execute('select max(seq) from rapport_outbox').fetchone()[0] + 10**6
    frames = []
    for (cid,) in ids:
        before = os.path.getsize(d + '-wal')
        c.execute('begin immediate')
        c.execute("update rapport_customers set version=version+1, customer_json=customer_json where tenant_id=? and customer_id=?", (t, cid))
        for m in range(messages):
            seq += 1
            c.execute('insert into rapport_outbox (tenant_id, message_id, seq, occurred_at_us, attempts, available_at_us, message_json) values (?,?,?,?,?,?,?)',
                      (t, uuid.UUID(int=3 * 10**9 + seq).bytes, seq, 0, 0, -2**63, msg))
        c.execute('commit')
        frames.append((os.path.getsize(d + '-wal') - before) / (8192 + 24))
    return sum(frames) / len(frames)

if variant == 'apply':
    c, d = fresh('apply0'); print('apply, no message', apply_run(c, d, 0))
    c, d = fresh('apply1'); print('apply, one message', apply_run(c, d, 1))
