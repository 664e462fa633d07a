/**
 * The progress document served by the server extension, and the few
 * computations the panel does on it. No JupyterLab imports: unit-tested in node.
 */

export type StepState = 'done' | 'next' | 'todo';
export type EpisodeState = 'done' | 'started' | 'todo';
export type ConsentDecision = 'given' | 'withdrawn' | null;

export interface IStep {
  id: string;
  title: string;
  help: string;
  help_url: string | null;
  self_report: boolean;
  state: StepState;
  reached: string | null;
}

export interface IScore {
  earned: number;
  possible: number;
  percent: number;
}

export interface IEpisode {
  id: string;
  title: string;
  self_report: boolean;
  exercises_total: number;
  exercises_done: number;
  state: EpisodeState;
  completed: string | null;
  source: string | null;
}

export interface ILesson extends IScore {
  id: string;
  title: string;
  episodes: IEpisode[];
}

export interface IProgram extends IScore {
  id: string;
  title: string;
  lessons: ILesson[];
}

export interface ITraining extends IScore {
  programs: IProgram[];
}

export interface INotice {
  version: string;
  title: string;
  body: string;
}

/**
 * Whether the member is to be asked: no decision yet, or an acceptance of an
 * older version of the notice (the service stores only essential events until
 * the member answers the current one, as its own page asks again).
 */
export function needsDecision(progress: IProgress): boolean {
  const { decision, version } = progress.consent;
  if (decision === null) {
    return true;
  }
  return (
    decision === 'given' &&
    progress.notice !== null &&
    version !== progress.notice.version
  );
}

/** The notice version sent with a decision when the service has no notice. */
export const BUILTIN_NOTICE_VERSION = 'builtin';

export type BadgeState = 'earned' | 'claimed' | 'revoked';

/** A badge the member earned, with where to claim it or verify it. */
export interface IBadge {
  id: string;
  /** A lesson's badge, or a whole training path's (a program of the catalog). */
  kind: 'lesson' | 'path';
  /** The lesson of a lesson's badge ('' for a path's). */
  lesson: string;
  /** The program of a training path's badge, and its title. */
  path: string | null;
  path_title: string | null;
  name: string;
  state: BadgeState;
  issued: string;
  /** Claim it on the `me` page (while unclaimed), or its place there. */
  claim_url: string | null;
  page_url: string | null;
  /** The public verification page (once claimed). */
  public_url: string | null;
}

/** What the learner can do with a badge: claim it, or share its public page. */
export function badgeLink(
  badge: IBadge
): { kind: 'claim' | 'verify' | 'page'; href: string } | null {
  if (badge.state === 'earned' && badge.claim_url) {
    return { kind: 'claim', href: badge.claim_url };
  }
  if (badge.state === 'claimed' && badge.public_url) {
    return { kind: 'verify', href: badge.public_url };
  }
  return badge.page_url ? { kind: 'page', href: badge.page_url } : null;
}

export interface IProgress {
  active: boolean;
  stale: boolean;
  community: string;
  language: string;
  consent: { decision: ConsentDecision; version: string | null };
  notice: INotice | null;
  steps: IStep[];
  steps_done: number;
  steps_total: number;
  training: ITraining;
  /** Empty when the hub issues no badges. */
  badges: IBadge[];
}

/**
 * Rounded percentage, as the service computes it (0 when nothing is possible).
 */
export function percent(earned: number, possible: number): number {
  return possible > 0 ? Math.round((100 * earned) / possible) : 0;
}

/**
 * Step states from the set of reached steps: the first step not reached is
 * "next", the ones after it "todo".
 */
export function deriveStepStates(
  steps: readonly IStep[],
  reached: ReadonlySet<string>
): IStep[] {
  let nextGiven = false;
  return steps.map(step => {
    let state: StepState;
    if (reached.has(step.id)) {
      state = 'done';
    } else if (!nextGiven) {
      state = 'next';
      nextGiven = true;
    } else {
      state = 'todo';
    }
    return state === step.state ? step : { ...step, state };
  });
}

/**
 * Re-score lessons, programs and the whole training from episode states:
 * a lesson earns one point per episode done, a program and the training sum
 * their children.
 */
export function rescoreTraining(programs: IProgram[]): ITraining {
  const scored = programs.map(program => {
    const lessons = program.lessons.map(lesson => {
      const earned = lesson.episodes.filter(e => e.state === 'done').length;
      const possible = lesson.episodes.length;
      return {
        ...lesson,
        earned,
        possible,
        percent: percent(earned, possible)
      };
    });
    return { ...program, lessons, ...sum(lessons) };
  });
  return { programs: scored, ...sum(scored) };
}

function sum(items: readonly IScore[]): IScore {
  const earned = items.reduce((n, i) => n + i.earned, 0);
  const possible = items.reduce((n, i) => n + i.possible, 0);
  return { earned, possible, percent: percent(earned, possible) };
}

/**
 * Find an episode of the training by lesson and episode id.
 */
export function findEpisode(
  progress: IProgress | null,
  lesson: string,
  episode: string
): IEpisode | null {
  for (const program of progress?.training.programs ?? []) {
    for (const l of program.lessons) {
      if (l.id === lesson) {
        const found = l.episodes.find(e => e.id === episode);
        if (found) {
          return found;
        }
      }
    }
  }
  return null;
}

function updateEpisode(
  progress: IProgress,
  lesson: string,
  episode: string,
  update: (e: IEpisode) => IEpisode
): IProgress {
  if (!findEpisode(progress, lesson, episode)) {
    return progress;
  }
  const programs = progress.training.programs.map(p => ({
    ...p,
    lessons: p.lessons.map(l =>
      l.id !== lesson
        ? l
        : {
            ...l,
            episodes: l.episodes.map(e => (e.id === episode ? update(e) : e))
          }
    )
  }));
  return { ...progress, training: rescoreTraining(programs) };
}

/**
 * Optimistic update after the extension reported exercises: the episode is at
 * least started and has at least `count` exercises done. Completion from
 * exercises is the service's decision, so the state never becomes "done" here.
 */
export function withExercisesDone(
  progress: IProgress,
  lesson: string,
  episode: string,
  count: number
): IProgress {
  return updateEpisode(progress, lesson, episode, e => ({
    ...e,
    exercises_done: Math.max(
      e.exercises_done,
      Math.min(count, e.exercises_total)
    ),
    state: e.state === 'done' ? 'done' : 'started'
  }));
}

/**
 * Optimistic update after the learner marked an episode complete.
 */
export function withEpisodeDone(
  progress: IProgress,
  lesson: string,
  episode: string,
  when: string
): IProgress {
  return updateEpisode(progress, lesson, episode, e =>
    e.state === 'done'
      ? e
      : { ...e, state: 'done', completed: when, source: 'self' }
  );
}

/**
 * Optimistic update after a consent decision.
 */
export function withConsent(
  progress: IProgress,
  decision: 'given' | 'withdrawn',
  version: string
): IProgress {
  return { ...progress, consent: { decision, version } };
}

/**
 * A change the panel shows before the service reports it.
 */
export interface IPendingUpdate {
  apply(progress: IProgress): IProgress;
  /** Whether the service's data already reflects the change. */
  confirmed(progress: IProgress): boolean;
}

export function pendingConsent(
  decision: 'given' | 'withdrawn',
  version: string
): IPendingUpdate {
  return {
    apply: p => withConsent(p, decision, version),
    confirmed: p => p.consent.decision === decision
  };
}

export function pendingEpisodeDone(
  lesson: string,
  episode: string,
  when: string
): IPendingUpdate {
  return {
    apply: p => withEpisodeDone(p, lesson, episode, when),
    confirmed: p => {
      const e = findEpisode(p, lesson, episode);
      return !e || e.state === 'done';
    }
  };
}

export function pendingExercisesDone(
  lesson: string,
  episode: string,
  count: number
): IPendingUpdate {
  return {
    apply: p => withExercisesDone(p, lesson, episode, count),
    confirmed: p => {
      const e = findEpisode(p, lesson, episode);
      return (
        !e ||
        e.state === 'done' ||
        e.exercises_done >= Math.min(count, e.exercises_total)
      );
    }
  };
}

/**
 * Optimistic updates laid over the service's data until it confirms them.
 * The service applies events a little later (the server extension batches
 * them), so a refresh right after posting would otherwise undo what the
 * member just did; an update the service never confirms expires.
 */
export class PendingUpdates {
  constructor(readonly ttlMs = 60_000) {}

  get size(): number {
    return this._items.length;
  }

  add(update: IPendingUpdate, now: number): void {
    this._items.push({ update, expires: now + this.ttlMs });
  }

  /** The service's data with the updates it does not reflect yet. */
  applyTo(server: IProgress, now: number): IProgress {
    this._items = this._items.filter(
      i => i.expires > now && !i.update.confirmed(server)
    );
    return this._items.reduce((p, i) => i.update.apply(p), server);
  }

  private _items: { update: IPendingUpdate; expires: number }[] = [];
}

/**
 * Check and complete a progress document from the server: the panel must not
 * break on a missing field from an older or newer server extension.
 * Returns null when the value holds no progress to show.
 */
export function parseProgress(value: unknown): IProgress | null {
  if (!isObject(value)) {
    return null;
  }
  // Inside a hub, a document without the member's state says only that the
  // service has not been reached yet: nothing to show, least of all a notice.
  if (value.active !== false && !isObject(value.consent)) {
    return null;
  }
  const consent = isObject(value.consent) ? value.consent : {};
  const decision =
    consent.decision === 'given' || consent.decision === 'withdrawn'
      ? consent.decision
      : null;
  const notice = isObject(value.notice) ? value.notice : null;
  const rawSteps = array(value.steps).filter(isObject);
  let steps = rawSteps.map(parseStep);
  if (rawSteps.some(s => !STEP_STATES.has(s.state as string))) {
    // An older service sends only when each step was reached.
    steps = deriveStepStates(
      steps,
      new Set(steps.filter(s => s.reached !== null).map(s => s.id))
    );
  }
  const training = isObject(value.training) ? value.training : {};
  const programs = array(training.programs)
    .filter(isObject)
    .map(p => ({
      id: str(p.id),
      title: str(p.title, str(p.id)),
      ...score(p),
      lessons: array(p.lessons)
        .filter(isObject)
        .map(l => ({
          id: str(l.id),
          title: str(l.title, str(l.id)),
          ...score(l),
          episodes: array(l.episodes).filter(isObject).map(parseEpisode)
        }))
    }));
  return {
    active: value.active !== false,
    stale: value.stale === true,
    community: str(value.community),
    language: str(value.language),
    consent: {
      decision,
      version: typeof consent.version === 'string' ? consent.version : null
    },
    notice:
      notice && typeof notice.version === 'string'
        ? {
            version: notice.version,
            title: str(notice.title),
            body: str(notice.body)
          }
        : null,
    steps,
    steps_done: num(
      value.steps_done,
      steps.filter(s => s.state === 'done').length
    ),
    steps_total: num(value.steps_total, steps.length),
    training: { programs, ...score(training, sum(programs)) },
    badges: array(value.badges)
      .filter(isObject)
      .filter(b => typeof b.id === 'string' && b.id !== '')
      .map(parseBadge)
  };
}

function optionalStr(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function parseBadge(b: Record<string, unknown>): IBadge {
  const state: BadgeState = optionalStr(b.revoked)
    ? 'revoked'
    : optionalStr(b.claimed)
      ? 'claimed'
      : 'earned';
  const path = optionalStr(b.path);
  return {
    id: str(b.id),
    kind:
      b.kind === 'path' || (b.kind === undefined && path) ? 'path' : 'lesson',
    lesson: str(b.lesson),
    path,
    path_title: optionalStr(b.path_title),
    name: str(b.name, str(b.lesson, path ?? str(b.id))),
    state,
    issued: str(b.issued),
    claim_url: optionalStr(b.claim_url),
    page_url: optionalStr(b.page_url),
    public_url: optionalStr(b.public_url)
  };
}

const STEP_STATES = new Set(['done', 'next', 'todo']);

function parseStep(s: Record<string, unknown>): IStep {
  return {
    id: str(s.id),
    title: str(s.title, str(s.id)),
    help: str(s.help),
    help_url: typeof s.help_url === 'string' && s.help_url ? s.help_url : null,
    self_report: s.self_report === true,
    state: s.state === 'done' || s.state === 'next' ? s.state : 'todo',
    reached: typeof s.reached === 'string' ? s.reached : null
  };
}

function parseEpisode(e: Record<string, unknown>): IEpisode {
  return {
    id: str(e.id),
    title: str(e.title, str(e.id)),
    self_report: e.self_report === true,
    exercises_total: num(e.exercises_total, 0),
    exercises_done: num(e.exercises_done, 0),
    state: e.state === 'done' || e.state === 'started' ? e.state : 'todo',
    completed: typeof e.completed === 'string' ? e.completed : null,
    source: typeof e.source === 'string' ? e.source : null
  };
}

function score(o: Record<string, unknown>, fallback?: IScore): IScore {
  const earned = num(o.earned, fallback?.earned ?? 0);
  const possible = num(o.possible, fallback?.possible ?? 0);
  return {
    earned,
    possible,
    percent: num(o.percent, percent(earned, possible))
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function array(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}
