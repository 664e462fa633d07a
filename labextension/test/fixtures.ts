import { IProgress } from '../src/progress';

/** A progress document as the server extension sends it. */
export function sampleProgress(): IProgress {
  return {
    active: true,
    stale: false,
    community: 'ecology',
    language: 'en',
    consent: { decision: 'given', version: '1' },
    notice: { version: '1', title: 'Notice', body: 'We record progress.' },
    steps: [
      step('login', 'done', '2026-01-01T00:00:00Z'),
      step('start_server', 'done', '2026-01-01T00:01:00Z'),
      step('upload_file', 'next', null),
      step('run_code', 'todo', null)
    ],
    steps_done: 2,
    steps_total: 4,
    training: {
      earned: 1,
      possible: 3,
      percent: 33,
      programs: [
        {
          id: 'champions',
          title: 'Champions',
          earned: 1,
          possible: 3,
          percent: 33,
          lessons: [
            {
              id: 'intro',
              title: 'Intro',
              earned: 1,
              possible: 2,
              percent: 50,
              episodes: [
                episode('welcome', 'done', 0, 0, true),
                episode('first-notebook', 'todo', 3, 0, false)
              ]
            },
            {
              id: 'git',
              title: 'Git',
              earned: 0,
              possible: 1,
              percent: 0,
              episodes: [episode('clone', 'todo', 0, 0, true)]
            }
          ]
        }
      ]
    },
    badges: []
  };
}

function step(
  id: string,
  state: 'done' | 'next' | 'todo',
  reached: string | null
): IProgress['steps'][number] {
  return {
    id,
    title: id,
    help: '',
    help_url: null,
    self_report: false,
    state,
    reached
  };
}

function episode(
  id: string,
  state: 'done' | 'started' | 'todo',
  total: number,
  done: number,
  selfReport: boolean
) {
  return {
    id,
    title: id,
    self_report: selfReport,
    exercises_total: total,
    exercises_done: done,
    state,
    completed: state === 'done' ? '2026-01-02T00:00:00Z' : null,
    source: state === 'done' ? 'self' : null
  };
}
