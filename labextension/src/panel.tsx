import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import { checkIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { Translate } from './i18n';
import { ProgressModel } from './model';
import {
  badgeLink,
  BadgeState,
  BUILTIN_NOTICE_VERSION,
  IBadge,
  IEpisode,
  INotice,
  IProgress,
  IProgram,
  IStep,
  needsDecision,
  StepState
} from './progress';

export const PANEL_ID = 'catalyst-getting-started';

type Decide = (decision: 'given' | 'withdrawn') => Promise<boolean>;

/**
 * The "Getting started" sidebar: checklist, training progress and the
 * recording notice. Polls the progress only while visible.
 */
export class GettingStartedPanel extends ReactWidget {
  constructor(options: GettingStartedPanel.IOptions) {
    super();
    this._model = options.model;
    this._t = options.t;
    this._decide = options.decide;
    this.id = PANEL_ID;
    this.addClass('jp-CatalystPanel');
    this.node.dataset.catalystPanel = '';
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.setPolling(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._model.setPolling(false);
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this._model.changed}>
        {() => (
          <GettingStarted
            model={this._model}
            t={this._t}
            decide={this._decide}
          />
        )}
      </UseSignal>
    );
  }

  private _model: ProgressModel;
  private _t: Translate;
  private _decide: Decide;
}

export namespace GettingStartedPanel {
  export interface IOptions {
    model: ProgressModel;
    t: Translate;
    /** Record a consent decision; resolves to whether it was accepted. */
    decide: Decide;
  }
}

function GettingStarted(props: {
  model: ProgressModel;
  t: Translate;
  decide: Decide;
}): JSX.Element {
  const { model, t } = props;
  const progress = model.progress;
  // After answering the notice, which then goes away, keep keyboard focus in
  // the panel: on the control to change the choice.
  const [answered, setAnswered] = React.useState(false);
  const decide: Decide = async decision => {
    const ok = await props.decide(decision);
    setAnswered(ok);
    return ok;
  };
  let note: string | null = null;
  if (model.status === 'loading') {
    note = t('Loading your progress…');
  } else if (!progress) {
    note = t('Progress is not available right now.');
  } else if (!progress.active) {
    note = t(
      'Not connected to a hub: progress is recorded on JupyterHub only.'
    );
  } else if (model.stale) {
    note = t('Offline, showing last known progress.');
  }
  return (
    <div className="jp-CatalystPanel-content">
      <h2 className="jp-CatalystPanel-title">{t('Getting started')}</h2>
      <p
        className="jp-CatalystPanel-note"
        role="status"
        data-catalyst-status={note ? '' : undefined}
      >
        {note}
      </p>
      {progress && progress.active && (
        <>
          {needsDecision(progress) && (
            <ConsentNotice
              notice={progress.notice}
              t={t}
              decide={decide}
              current={null}
            />
          )}
          <Summary progress={progress} t={t} />
          <Checklist steps={progress.steps} t={t} />
          <Training progress={progress} t={t} />
          {progress.badges.length > 0 && (
            <Badges badges={progress.badges} t={t} />
          )}
          {!needsDecision(progress) && (
            <PrivacyChoices
              progress={progress}
              t={t}
              decide={decide}
              autoFocus={answered}
            />
          )}
        </>
      )}
    </div>
  );
}

/** Announced to screen readers when it changes, i.e. on progress. */
function Summary(props: { progress: IProgress; t: Translate }): JSX.Element {
  const { progress, t } = props;
  return (
    <p
      className="jp-CatalystPanel-summary"
      aria-live="polite"
      data-catalyst-summary=""
    >
      {t('{done} of {total} steps done', {
        done: progress.steps_done,
        total: progress.steps_total
      })}
      {progress.training.possible > 0 &&
        ' · ' +
          t('training {percent}% complete', {
            percent: progress.training.percent
          })}
    </p>
  );
}

function stateLabel(state: StepState, t: Translate): string {
  switch (state) {
    case 'done':
      return t('Done');
    case 'next':
      return t('Next');
    default:
      return t('To do');
  }
}

function Checklist(props: { steps: IStep[]; t: Translate }): JSX.Element {
  const { steps, t } = props;
  return (
    <section
      className="jp-CatalystPanel-section"
      aria-labelledby="catalyst-checklist-heading"
      data-catalyst-checklist=""
    >
      <h3 id="catalyst-checklist-heading">{t('Onboarding checklist')}</h3>
      {steps.length === 0 ? (
        <p>{t('No onboarding steps in this community.')}</p>
      ) : (
        <ol className="jp-CatalystPanel-steps">
          {steps.map(step => (
            <li
              key={step.id}
              className={`jp-CatalystPanel-step jp-mod-${step.state}`}
              data-step-id={step.id}
              data-state={step.state}
              aria-current={step.state === 'next' ? 'step' : undefined}
            >
              <span className="jp-CatalystPanel-stepMark" aria-hidden="true">
                {step.state === 'done' ? <checkIcon.react tag="span" /> : null}
              </span>
              <div className="jp-CatalystPanel-stepBody">
                <span className="jp-CatalystPanel-stepTitle">{step.title}</span>{' '}
                <span className="jp-CatalystPanel-badge">
                  {stateLabel(step.state, t)}
                </span>
                {step.help && (
                  <p className="jp-CatalystPanel-help">{step.help}</p>
                )}
                {step.help_url && (
                  <a
                    className="jp-CatalystPanel-link"
                    href={step.help_url}
                    target="_blank"
                    rel="noopener noreferrer"
                    data-catalyst-help-link=""
                  >
                    {t('More help')}
                    <span className="jp-CatalystPanel-srOnly">
                      {': ' + step.title + ' ' + t('(opens in a new tab)')}
                    </span>
                  </a>
                )}
              </div>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function Meter(props: { percent: number; label: string }): JSX.Element {
  return (
    <span className="jp-CatalystPanel-meter">
      <progress max={100} value={props.percent} aria-label={props.label} />
      <span aria-hidden="true">{props.percent}%</span>
    </span>
  );
}

function Training(props: { progress: IProgress; t: Translate }): JSX.Element {
  const { progress, t } = props;
  const { training } = progress;
  return (
    <section
      className="jp-CatalystPanel-section"
      aria-labelledby="catalyst-training-heading"
      data-catalyst-training=""
    >
      <h3 id="catalyst-training-heading">{t('Training')}</h3>
      {training.programs.length === 0 ? (
        <p>{t('No training in this community yet.')}</p>
      ) : (
        <>
          <Meter percent={training.percent} label={t('Training progress')} />
          <ul className="jp-CatalystPanel-programs">
            {training.programs.map(program => (
              <Program key={program.id} program={program} t={t} />
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function Program(props: { program: IProgram; t: Translate }): JSX.Element {
  const { program, t } = props;
  return (
    <li data-catalyst-program="" data-program-id={program.id}>
      <h4 className="jp-CatalystPanel-programTitle">{program.title}</h4>
      <Meter
        percent={program.percent}
        label={t('Progress in {title}', { title: program.title })}
      />
      <ul className="jp-CatalystPanel-lessons">
        {program.lessons.map(lesson => (
          <li
            key={lesson.id}
            data-catalyst-lesson=""
            data-lesson-id={lesson.id}
          >
            <h5 className="jp-CatalystPanel-lessonTitle">{lesson.title}</h5>
            <Meter
              percent={lesson.percent}
              label={t('Progress in {title}', { title: lesson.title })}
            />
            <ul className="jp-CatalystPanel-episodes">
              {lesson.episodes.map(episode => (
                <Episode
                  key={episode.id}
                  lesson={lesson.id}
                  episode={episode}
                  t={t}
                />
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </li>
  );
}

function Episode(props: {
  lesson: string;
  episode: IEpisode;
  t: Translate;
}): JSX.Element {
  const { lesson, episode, t } = props;
  const state =
    episode.state === 'done'
      ? t('Done')
      : episode.state === 'started'
        ? t('Started')
        : t('To do');
  return (
    <li
      className={`jp-CatalystPanel-episode jp-mod-${episode.state}`}
      data-catalyst-episode=""
      data-lesson-id={lesson}
      data-episode-id={episode.id}
      data-state={episode.state}
    >
      <span className="jp-CatalystPanel-stepMark" aria-hidden="true">
        {episode.state === 'done' ? <checkIcon.react tag="span" /> : null}
      </span>
      <span className="jp-CatalystPanel-episodeTitle">{episode.title}</span>{' '}
      <span className="jp-CatalystPanel-badge">{state}</span>
      {episode.exercises_total > 0 && (
        <span className="jp-CatalystPanel-exercises">
          {t('{done} of {total} exercises', {
            done: episode.exercises_done,
            total: episode.exercises_total
          })}
        </span>
      )}
    </li>
  );
}

function badgeStateLabel(state: BadgeState, t: Translate): string {
  switch (state) {
    case 'claimed':
      return t('Claimed');
    case 'revoked':
      return t('Revoked');
    default:
      return t('Earned');
  }
}

function Badges(props: { badges: IBadge[]; t: Translate }): JSX.Element {
  const { badges, t } = props;
  return (
    <section
      className="jp-CatalystPanel-section"
      aria-labelledby="catalyst-badges-heading"
      data-catalyst-badges=""
    >
      <h3 id="catalyst-badges-heading">{t('Your badges')}</h3>
      <ul className="jp-CatalystPanel-badges">
        {badges.map(badge => {
          const link = badgeLink(badge);
          const label = !link
            ? null
            : link.kind === 'claim'
              ? t('Claim this badge')
              : link.kind === 'verify'
                ? t('Public verification page')
                : t('See it on your page');
          return (
            <li
              key={badge.id}
              className={`jp-CatalystPanel-earned jp-mod-${badge.state}`}
              data-catalyst-badge=""
              data-badge-id={badge.id}
              data-lesson-id={
                badge.kind === 'lesson' ? badge.lesson : undefined
              }
              data-path-id={badge.path ?? undefined}
              data-state={badge.state}
            >
              <span className="jp-CatalystPanel-badgeName">{badge.name}</span>{' '}
              {badge.kind === 'path' && (
                <span
                  className="jp-CatalystPanel-help"
                  data-catalyst-badge-path=""
                >
                  {t('Training path') +
                    (badge.path_title ? ': ' + badge.path_title : '')}{' '}
                </span>
              )}
              <span className="jp-CatalystPanel-badge">
                {badgeStateLabel(badge.state, t)}
              </span>
              {link && (
                <a
                  className="jp-CatalystPanel-link"
                  href={link.href}
                  target="_blank"
                  rel="noopener noreferrer"
                  data-catalyst-badge-link={link.kind}
                >
                  {label}
                  <span className="jp-CatalystPanel-srOnly">
                    {': ' + badge.name + ' ' + t('(opens in a new tab)')}
                  </span>
                </a>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function ConsentNotice(props: {
  notice: INotice | null;
  current: 'given' | 'withdrawn' | null;
  t: Translate;
  decide: Decide;
}): JSX.Element {
  const { notice, current, t, decide } = props;
  const [busy, setBusy] = React.useState(false);
  const [failed, setFailed] = React.useState(false);
  const title = notice?.title || t('Recording your progress');
  const body =
    notice?.body ||
    t(
      'This hub records the onboarding steps and training exercises you complete, to show your progress here and to help your community improve its training. Reports across communities never show individuals. You can change your choice at any time under Privacy choices.'
    );
  const onDecide = async (decision: 'given' | 'withdrawn') => {
    setBusy(true);
    setFailed(false);
    const ok = await decide(decision);
    setBusy(false);
    setFailed(!ok);
  };
  return (
    <section
      className="jp-CatalystPanel-notice"
      aria-labelledby="catalyst-notice-heading"
      data-catalyst-consent-notice=""
      data-notice-version={notice?.version ?? BUILTIN_NOTICE_VERSION}
    >
      <h3 id="catalyst-notice-heading">{title}</h3>
      {body.split(/\n{2,}/).map((paragraph, i) => (
        <p key={i}>{paragraph}</p>
      ))}
      <div className="jp-CatalystPanel-buttons">
        {/* Once decided, offer only the other choice. */}
        {current !== 'given' && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-accept"
            disabled={busy}
            onClick={() => void onDecide('given')}
            data-catalyst-consent="accept"
          >
            {t('Accept')}
          </button>
        )}
        {current !== 'withdrawn' && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-reject"
            disabled={busy}
            onClick={() => void onDecide('withdrawn')}
            data-catalyst-consent="opt-out"
          >
            {t('Opt out')}
          </button>
        )}
      </div>
      {failed && (
        <p className="jp-CatalystPanel-error" role="alert">
          {t('Your choice could not be saved. Please try again.')}
        </p>
      )}
    </section>
  );
}

function PrivacyChoices(props: {
  progress: IProgress;
  t: Translate;
  decide: Decide;
  autoFocus: boolean;
}): JSX.Element {
  const { progress, t, decide } = props;
  const [open, setOpen] = React.useState(false);
  const decision = progress.consent.decision;
  return (
    <section className="jp-CatalystPanel-privacy" data-catalyst-privacy="">
      <button
        type="button"
        className="jp-CatalystPanel-disclosure"
        aria-expanded={open}
        aria-controls="catalyst-privacy-choices"
        onClick={() => setOpen(!open)}
        autoFocus={props.autoFocus}
        data-catalyst-privacy-toggle=""
      >
        {t('Privacy choices')}
      </button>
      {open && (
        <div id="catalyst-privacy-choices">
          <p data-catalyst-consent-state={decision ?? ''}>
            {decision === 'given'
              ? t('You accepted: your steps and exercises are recorded.')
              : t(
                  'You opted out: your activity and exercises are not recorded.'
                )}
          </p>
          <ConsentNotice
            notice={progress.notice}
            current={decision}
            t={t}
            decide={decide}
          />
        </div>
      )}
    </section>
  );
}
