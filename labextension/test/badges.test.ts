import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { makeTranslate } from '../src/i18n';
import { badgeLink, parseProgress } from '../src/progress';
import { sampleProgress } from './fixtures';

/** A badge as `api/me` lists it, through the server extension. */
function listed(overrides: Record<string, unknown> = {}) {
  return {
    id: 'b1',
    lesson: 'hub-basics',
    name: 'Hub basics',
    description: 'Finished the basics',
    issued: '2026-01-02T00:00:00Z',
    claimed: null,
    revoked: null,
    public_url: 'https://hub.example.org/services/catalyst/badges/b1',
    page_url: '/services/catalyst/me#badge-b1',
    claim_url: '/services/catalyst/me/badges/b1/claim',
    ...overrides
  };
}

function parseBadges(badges: unknown) {
  const doc = { ...sampleProgress(), badges };
  const p = parseProgress(JSON.parse(JSON.stringify(doc)));
  assert.ok(p);
  return p.badges;
}

describe('badges in the progress document', () => {
  it('has none when the hub issues none', () => {
    const doc: Record<string, unknown> = { ...sampleProgress() };
    delete doc.badges;
    assert.deepEqual(parseProgress(doc)?.badges, []);
  });

  it('reads each badge and its state', () => {
    const [earned, claimed, revoked] = parseBadges([
      listed(),
      listed({ id: 'b2', claimed: '2026-01-03T00:00:00Z' }),
      listed({
        id: 'b3',
        claimed: '2026-01-03T00:00:00Z',
        revoked: '2026-01-04T00:00:00Z'
      })
    ]);
    assert.equal(earned.name, 'Hub basics');
    assert.deepEqual(
      [earned.state, claimed.state, revoked.state],
      ['earned', 'claimed', 'revoked']
    );
  });

  it('skips what is not a badge and names one after its lesson', () => {
    const badges = parseBadges([
      null,
      'x',
      { name: 'no id' },
      { id: 'b', lesson: 'git' }
    ]);
    assert.deepEqual(
      badges.map(b => [b.id, b.name, b.state, b.claim_url]),
      [['b', 'git', 'earned', null]]
    );
  });
});

describe("a training path's badge", () => {
  it('reads it as a path, with its title', () => {
    const [lesson, path] = parseBadges([
      listed({ kind: 'lesson' }),
      listed({
        id: 'p1',
        kind: 'path',
        lesson: null,
        path: 'champions',
        path_title: 'Hub Champion training',
        name: 'Hub Champion'
      })
    ]);
    assert.deepEqual(
      [lesson.kind, lesson.lesson, lesson.path],
      ['lesson', 'hub-basics', null]
    );
    assert.deepEqual(
      [path.kind, path.lesson, path.path, path.path_title, path.name],
      ['path', '', 'champions', 'Hub Champion training', 'Hub Champion']
    );
    assert.equal(badgeLink(path)?.kind, 'claim');
  });

  it('names one after its path without a name, and reads an older service', () => {
    const [unnamed, older] = parseBadges([
      { id: 'p2', kind: 'path', path: 'champions' },
      listed()
    ]);
    assert.deepEqual([unnamed.kind, unnamed.name], ['path', 'champions']);
    assert.deepEqual([older.kind, older.path], ['lesson', null]);
  });
});

describe('badgeLink', () => {
  it('claims an unclaimed badge on the me page', () => {
    const [badge] = parseBadges([listed()]);
    assert.deepEqual(badgeLink(badge), {
      kind: 'claim',
      href: '/services/catalyst/me/badges/b1/claim'
    });
  });

  it('shares a claimed badge by its public verification page', () => {
    const [badge] = parseBadges([listed({ claimed: '2026-01-03T00:00:00Z' })]);
    assert.deepEqual(badgeLink(badge), {
      kind: 'verify',
      href: 'https://hub.example.org/services/catalyst/badges/b1'
    });
  });

  it('shows a revoked badge only on the me page', () => {
    const [badge] = parseBadges([
      listed({ claimed: '2026-01-03T00:00:00Z', revoked: '2026-01-04' })
    ]);
    assert.deepEqual(badgeLink(badge), {
      kind: 'page',
      href: '/services/catalyst/me#badge-b1'
    });
  });

  it('has no link from an older service without them', () => {
    const [badge] = parseBadges([
      listed({ claim_url: undefined, page_url: undefined })
    ]);
    assert.equal(badgeLink(badge), null);
  });
});

describe('badge texts', () => {
  it('are translated', () => {
    assert.equal(makeTranslate('es')('Your badges'), 'Tus insignias');
    assert.equal(makeTranslate('pt')('Claimed'), 'Reivindicado');
    assert.equal(makeTranslate('fr')('Claim this badge'), 'Réclamer ce badge');
  });
});
