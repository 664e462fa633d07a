import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import {
  catalogLanguage,
  interpolate,
  makeTranslate,
  MESSAGES,
  TRANSLATED_LANGUAGES
} from '../src/i18n';

// Compiled to build-test/test/, run from the package folder by `npm test`.
const SRC = join(process.cwd(), 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts')
        ? [join(dir, entry.name)]
        : []
  );
}

/** Every call of `t` in the source: where, and its message or null if not a literal. */
function usedMessages(): [string, string | null][] {
  const found: [string, string | null][] = [];
  const call = /\bt\(\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([^'"\s]))/g;
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(call)) {
      const literal = match[1] ?? match[2];
      const where = `${file}:${text.slice(0, match.index).split('\n').length}`;
      found.push([
        where,
        literal === undefined ? null : literal.replace(/\\(.)/g, '$1')
      ]);
    }
  }
  return found;
}

function placeholders(text: string): string[] {
  return [...text.matchAll(/\{(\w+)\}/g)].map(m => m[1]).sort();
}

describe('message catalogs', () => {
  const used = usedMessages();

  it('finds the messages in the source', () => {
    assert.ok(used.length > 20, `only ${used.length} calls found`);
  });

  it('only translates literal messages', () => {
    const dynamic = used.filter(([, m]) => m === null).map(([w]) => w);
    assert.deepEqual(dynamic, [], 't() needs a string literal to be checked');
  });

  for (const language of TRANSLATED_LANGUAGES) {
    it(`translates every message used into ${language}`, () => {
      const missing = [...new Set(used.map(([, m]) => m))].filter(
        m => m !== null && !MESSAGES[m]?.[language]?.trim()
      );
      assert.deepEqual(missing, []);
    });
  }

  it('keeps the placeholders of each message', () => {
    for (const [message, translations] of Object.entries(MESSAGES)) {
      for (const language of TRANSLATED_LANGUAGES) {
        assert.deepEqual(
          placeholders(translations[language]),
          placeholders(message),
          `${language}: ${message}`
        );
      }
    }
  });

  it('has no unused messages', () => {
    const messages = new Set(used.map(([, m]) => m));
    const unused = Object.keys(MESSAGES).filter(m => !messages.has(m));
    assert.deepEqual(unused, []);
  });
});

describe('catalogLanguage', () => {
  it('follows the JupyterLab language code', () => {
    assert.equal(catalogLanguage('es-ES'), 'es');
    assert.equal(catalogLanguage('es_419'), 'es');
    assert.equal(catalogLanguage('pt-BR'), 'pt');
    assert.equal(catalogLanguage('pt_PT'), 'pt');
    assert.equal(catalogLanguage('fr-FR'), 'fr');
    assert.equal(catalogLanguage('FR-ca'), 'fr');
    assert.equal(catalogLanguage('en-US'), 'en');
  });

  it('falls back to English', () => {
    assert.equal(catalogLanguage('de-DE'), 'en');
    assert.equal(catalogLanguage('default'), 'en');
    assert.equal(catalogLanguage(''), 'en');
    assert.equal(catalogLanguage(undefined), 'en');
  });
});

describe('makeTranslate', () => {
  it('translates and interpolates', () => {
    const t = makeTranslate('es');
    assert.equal(t('Accept'), 'Aceptar');
    assert.equal(
      t('{done} of {total} steps done', { done: 2, total: 9 }),
      '2 de 9 pasos hechos'
    );
    assert.equal(makeTranslate('fr')('Opt out'), 'Refuser');
  });

  it('keeps English, and unknown messages, as they are', () => {
    assert.equal(makeTranslate('en')('Accept'), 'Accept');
    assert.equal(
      makeTranslate('pt')('Not in the catalog'),
      'Not in the catalog'
    );
  });

  it('leaves unknown placeholders visible', () => {
    assert.equal(interpolate('{a} {b}', { a: 1 }), '1 {b}');
  });
});
