import { DatabaseSync } from 'node:sqlite';
import { CompiledQuery } from 'kysely';
import { NodeSqliteDialect } from '../../../src/store/sqlite-dialect';

describe('NodeSqliteDialect driver', () => {
  it('hands its one connection to one holder at a time, in order', async () => {
    const driver = new NodeSqliteDialect({ database: new DatabaseSync(':memory:') }).createDriver();
    await driver.init();
    const events: string[] = [];

    const first = await driver.acquireConnection();
    events.push('first acquired');
    const second = driver.acquireConnection().then((c) => {
      events.push('second acquired');
      return c;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    events.push('first releasing');
    await driver.releaseConnection(first);
    await driver.releaseConnection(await second);

    expect(events).toEqual(['first acquired', 'first releasing', 'second acquired']);
    await driver.destroy();
  });

  it('returns rows for statements with columns, and changes and insert id for the others', async () => {
    const driver = new NodeSqliteDialect({ database: () => new DatabaseSync(':memory:') }).createDriver();
    await driver.init();
    const conn = await driver.acquireConnection();
    await conn.executeQuery(CompiledQuery.raw('create table t (id integer primary key, name text, flag integer)'));

    const insert = await conn.executeQuery(CompiledQuery.raw('insert into t (name, flag) values (?, ?), (?, ?)', ['a', true, 'b', false]));
    expect(insert).toEqual({ rows: [], numAffectedRows: 2n, insertId: 2n });

    const returning = await conn.executeQuery(CompiledQuery.raw('update t set name = ? where id = ? returning id, name', ['z', 1]));
    expect(returning.rows).toEqual([{ id: 1, name: 'z' }]);

    const select = await conn.executeQuery(CompiledQuery.raw('select id, flag from t order by id'));
    expect(select.rows).toEqual([
      { id: 1, flag: 1 },
      { id: 2, flag: 0 },
    ]);

    await expect(conn.executeQuery(CompiledQuery.raw('select ?', [new Date(0)]))).rejects.toMatchObject({ code: 'INTERNAL' });
    await expect(conn.executeQuery(CompiledQuery.raw('select * from missing'))).rejects.toThrow(/no such table/);
    await driver.releaseConnection(conn);
    await driver.destroy();
  });
});
