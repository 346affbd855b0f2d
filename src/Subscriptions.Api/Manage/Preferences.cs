using Subscriptions.Api.Pages;

namespace Subscriptions.Api.Manage;

/// <summary>One list in the preference centre: chosen when the reader is on it (or waits to be). A hidden or archived list shows only while they are on it, to be left.</summary>
public sealed record PreferenceRow(string Slug, string Name, bool Chosen, string Status);

public sealed record LanguageOption(string Code, string Name, bool Selected);

/// <summary>The words and state of the preference centre (<see cref="PreferencesPage"/>).</summary>
public sealed record Preferences(
    string Title, string Intro, string? Notice, string ListsLegend, IReadOnlyList<PreferenceRow> Lists,
    string LanguageLabel, IReadOnlyList<LanguageOption> LanguageOptions, string Save,
    string LeaveAllHint, string LeaveAll, string DownloadHint, string Download) : PageWords;
