import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ITranslator } from '@jupyterlab/translation';

import { consentEvent } from './events';
import { catalogLanguage, makeTranslate } from './i18n';
import { gettingStartedIcon } from './icons';
import { ProgressModel } from './model';
import {
  MarkCompleteExtension,
  markEpisodeComplete,
  selfReportEpisode,
  trackExecutions
} from './notebook';
import { GettingStartedPanel } from './panel';
import {
  BUILTIN_NOTICE_VERSION,
  needsDecision,
  pendingConsent
} from './progress';

namespace CommandIDs {
  export const open = 'catalyst-hub:open-getting-started';
  export const markEpisodeComplete = 'catalyst-hub:mark-episode-complete';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@catalyst-hub/labextension:plugin',
  description:
    'Getting started panel, training completion and recording notice for catalyst_hub.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ITranslator, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const language = catalogLanguage(translator?.languageCode);
    const t = makeTranslate(language);
    const model = new ProgressModel({
      language,
      serverSettings: app.serviceManager.serverSettings
    });

    const decide = async (decision: 'given' | 'withdrawn') => {
      const version = model.progress?.notice?.version ?? BUILTIN_NOTICE_VERSION;
      const ok = await model.post([consentEvent(decision, version)]);
      if (ok) {
        model.addPending(pendingConsent(decision, version));
      }
      return ok;
    };

    const panel = new GettingStartedPanel({ model, t, decide });
    panel.title.icon = gettingStartedIcon;
    panel.title.caption = t('Getting started');
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, panel.id);

    app.commands.addCommand(CommandIDs.open, {
      label: t('Show Getting started'),
      execute: () => app.shell.activateById(panel.id)
    });

    const currentEpisode = () =>
      selfReportEpisode(model, tracker.currentWidget?.content);
    app.commands.addCommand(CommandIDs.markEpisodeComplete, {
      label: t('Mark episode complete'),
      caption: t('Mark the episode of this lesson notebook as complete'),
      icon: gettingStartedIcon,
      isEnabled: () => {
        const episode = currentEpisode();
        return !!episode && episode.state !== 'done';
      },
      execute: () => markEpisodeComplete(model, tracker.currentWidget?.content)
    });
    model.changed.connect(() =>
      app.commands.notifyCommandChanged(CommandIDs.markEpisodeComplete)
    );
    tracker.currentChanged.connect(() =>
      app.commands.notifyCommandChanged(CommandIDs.markEpisodeComplete)
    );

    if (palette) {
      const category = t('Getting started');
      palette.addItem({ command: CommandIDs.open, category });
      palette.addItem({ command: CommandIDs.markEpisodeComplete, category });
    }

    app.docRegistry.addWidgetExtension(
      'Notebook',
      new MarkCompleteExtension(model, t)
    );
    trackExecutions(model);

    // Until the member decides, open the panel once per page load so the
    // notice is seen; nothing is recorded meanwhile.
    void app.restored
      .then(() => model.refresh())
      .then(() => {
        const progress = model.progress;
        if (progress?.active && needsDecision(progress)) {
          app.shell.activateById(panel.id);
        }
      });
  }
};

export default plugin;
