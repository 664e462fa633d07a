/**
 * The extension's own message catalogs. JupyterLab language packs are
 * separate Python packages, so the panel carries its translations here.
 * Catalog texts (steps, lessons) arrive translated from the server.
 *
 * Every message given to the translate function (`t`) in src/ must be a string
 * literal with an entry here for each language: test/i18n.test.ts checks it.
 */

export type CatalogLanguage = 'en' | 'es' | 'pt' | 'fr';

export const TRANSLATED_LANGUAGES = ['es', 'pt', 'fr'] as const;

type Translations = Record<(typeof TRANSLATED_LANGUAGES)[number], string>;

/** Interpolates `{name}` placeholders. */
export type Translate = (
  message: string,
  values?: Record<string, string | number>
) => string;

/**
 * The catalog for a JupyterLab language code ("es-ES", "pt_BR", "fr", ...):
 * by primary language, English for anything else.
 */
export function catalogLanguage(
  code: string | null | undefined
): CatalogLanguage {
  const primary = (code ?? '').trim().toLowerCase().split(/[-_]/)[0];
  return (TRANSLATED_LANGUAGES as readonly string[]).includes(primary)
    ? (primary as CatalogLanguage)
    : 'en';
}

export function makeTranslate(language: CatalogLanguage): Translate {
  return (message, values) => {
    const text =
      language === 'en' ? message : (MESSAGES[message]?.[language] ?? message);
    return values ? interpolate(text, values) : text;
  };
}

export function interpolate(
  text: string,
  values: Record<string, string | number>
): string {
  return text.replace(/\{(\w+)\}/g, (match, name: string) =>
    name in values ? String(values[name]) : match
  );
}

export const MESSAGES: Record<string, Translations> = {
  '(opens in a new tab)': {
    es: '(se abre en una pestaña nueva)',
    pt: '(abre em uma nova aba)',
    fr: "(s'ouvre dans un nouvel onglet)"
  },
  '{done} of {total} exercises': {
    es: '{done} de {total} ejercicios',
    pt: '{done} de {total} exercícios',
    fr: '{done} exercices sur {total}'
  },
  '{done} of {total} steps done': {
    es: '{done} de {total} pasos hechos',
    pt: '{done} de {total} etapas concluídas',
    fr: '{done} étapes terminées sur {total}'
  },
  Accept: { es: 'Aceptar', pt: 'Aceitar', fr: 'Accepter' },
  Done: { es: 'Hecho', pt: 'Concluído', fr: 'Terminé' },
  'Episode complete': {
    es: 'Episodio completado',
    pt: 'Episódio concluído',
    fr: 'Épisode terminé'
  },
  'Getting started': {
    es: 'Primeros pasos',
    pt: 'Primeiros passos',
    fr: 'Premiers pas'
  },
  'Loading your progress…': {
    es: 'Cargando tu progreso…',
    pt: 'Carregando seu progresso…',
    fr: 'Chargement de votre progression…'
  },
  'Mark episode complete': {
    es: 'Marcar episodio como completado',
    pt: 'Marcar episódio como concluído',
    fr: "Marquer l'épisode comme terminé"
  },
  'Mark the episode of this lesson notebook as complete': {
    es: 'Marca como completado el episodio de este cuaderno de la lección',
    pt: 'Marca como concluído o episódio deste notebook da lição',
    fr: "Marque comme terminé l'épisode de ce notebook de leçon"
  },
  'More help': { es: 'Más ayuda', pt: 'Mais ajuda', fr: "Plus d'aide" },
  Next: { es: 'Siguiente', pt: 'Próximo', fr: 'Suivant' },
  'No onboarding steps in this community.': {
    es: 'Esta comunidad no tiene pasos para empezar.',
    pt: 'Esta comunidade não tem etapas para começar.',
    fr: "Cette communauté n'a pas d'étapes pour bien démarrer."
  },
  'No training in this community yet.': {
    es: 'Todavía no hay formación en esta comunidad.',
    pt: 'Ainda não há treinamento nesta comunidade.',
    fr: 'Pas encore de formation dans cette communauté.'
  },
  'Not connected to a hub: progress is recorded on JupyterHub only.': {
    es: 'Sin conexión a un hub: el progreso solo se registra en JupyterHub.',
    pt: 'Sem conexão com um hub: o progresso só é registrado no JupyterHub.',
    fr: "Non connecté à un hub : la progression n'est enregistrée que sur JupyterHub."
  },
  'Offline, showing last known progress.': {
    es: 'Sin conexión; se muestra el último progreso conocido.',
    pt: 'Sem conexão; mostrando o último progresso conhecido.',
    fr: 'Hors ligne, affichage de la dernière progression connue.'
  },
  'Onboarding checklist': {
    es: 'Lista de pasos para empezar',
    pt: 'Lista de etapas para começar',
    fr: 'Étapes pour bien démarrer'
  },
  'Opt out': { es: 'No participar', pt: 'Não participar', fr: 'Refuser' },
  'Privacy choices': {
    es: 'Opciones de privacidad',
    pt: 'Opções de privacidade',
    fr: 'Choix de confidentialité'
  },
  'Progress in {title}': {
    es: 'Progreso en {title}',
    pt: 'Progresso em {title}',
    fr: 'Progression dans {title}'
  },
  'Progress is not available right now.': {
    es: 'El progreso no está disponible en este momento.',
    pt: 'O progresso não está disponível no momento.',
    fr: "La progression n'est pas disponible pour le moment."
  },
  'Recording your progress': {
    es: 'Registro de tu progreso',
    pt: 'Registro do seu progresso',
    fr: 'Enregistrement de votre progression'
  },
  'Show Getting started': {
    es: 'Mostrar Primeros pasos',
    pt: 'Mostrar Primeiros passos',
    fr: 'Afficher Premiers pas'
  },
  Started: { es: 'Empezado', pt: 'Iniciado', fr: 'Commencé' },
  'This hub records the onboarding steps and training exercises you complete, to show your progress here and to help your community improve its training. Reports across communities never show individuals. You can change your choice at any time under Privacy choices.':
    {
      es: 'Este hub registra los pasos para empezar y los ejercicios de formación que completas, para mostrar aquí tu progreso y ayudar a tu comunidad a mejorar su formación. Los informes entre comunidades nunca muestran a personas individuales. Puedes cambiar tu elección en cualquier momento en Opciones de privacidad.',
      pt: 'Este hub registra as etapas para começar e os exercícios de treinamento que você conclui, para mostrar seu progresso aqui e ajudar sua comunidade a melhorar o treinamento. Os relatórios entre comunidades nunca mostram pessoas individualmente. Você pode mudar sua escolha a qualquer momento em Opções de privacidade.',
      fr: 'Ce hub enregistre les étapes pour bien démarrer et les exercices de formation que vous terminez, pour afficher ici votre progression et aider votre communauté à améliorer sa formation. Les rapports entre communautés ne montrent jamais de personnes individuelles. Vous pouvez changer votre choix à tout moment dans Choix de confidentialité.'
    },
  'To do': { es: 'Pendiente', pt: 'Pendente', fr: 'À faire' },
  Training: { es: 'Formación', pt: 'Treinamento', fr: 'Formation' },
  'training {percent}% complete': {
    es: 'formación completada al {percent}%',
    pt: 'treinamento {percent}% concluído',
    fr: 'formation terminée à {percent} %'
  },
  'Training progress': {
    es: 'Progreso de la formación',
    pt: 'Progresso do treinamento',
    fr: 'Progression de la formation'
  },
  'You accepted: your steps and exercises are recorded.': {
    es: 'Aceptaste: se registran tus pasos y ejercicios.',
    pt: 'Você aceitou: suas etapas e exercícios são registrados.',
    fr: 'Vous avez accepté : vos étapes et exercices sont enregistrés.'
  },
  'You completed this episode': {
    es: 'Completaste este episodio',
    pt: 'Você concluiu este episódio',
    fr: 'Vous avez terminé cet épisode'
  },
  'You opted out: your activity and exercises are not recorded.': {
    es: 'No participas: tu actividad y tus ejercicios no se registran.',
    pt: 'Você optou por não participar: sua atividade e seus exercícios não são registrados.',
    fr: 'Vous avez refusé : votre activité et vos exercices ne sont pas enregistrés.'
  },
  'Claim this badge': {
    es: 'Reclamar esta insignia',
    pt: 'Reivindicar este emblema',
    fr: 'Réclamer ce badge'
  },
  Claimed: {
    es: 'Reclamada',
    pt: 'Reivindicado',
    fr: 'Réclamé'
  },
  Earned: {
    es: 'Obtenida',
    pt: 'Conquistado',
    fr: 'Obtenu'
  },
  'Public verification page': {
    es: 'Página pública de verificación',
    pt: 'Página pública de verificação',
    fr: 'Page publique de vérification'
  },
  Revoked: {
    es: 'Revocada',
    pt: 'Revogado',
    fr: 'Révoqué'
  },
  'Training path': {
    es: 'Itinerario de formación',
    pt: 'Trilha de formação',
    fr: 'Parcours de formation'
  },
  'See it on your page': {
    es: 'Verla en tu página',
    pt: 'Ver na sua página',
    fr: 'La voir sur votre page'
  },
  'Your badges': {
    es: 'Tus insignias',
    pt: 'Seus emblemas',
    fr: 'Vos badges'
  },
  'Your choice could not be saved. Please try again.': {
    es: 'No se pudo guardar tu elección. Inténtalo de nuevo.',
    pt: 'Não foi possível salvar sua escolha. Tente novamente.',
    fr: "Votre choix n'a pas pu être enregistré. Veuillez réessayer."
  }
};
