using System.Text.RegularExpressions;
using System.Xml.Linq;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Localization;

/// <summary>Every language has every text, and no translation asks for a value the English text does not give.</summary>
public partial class ResourceCompletenessTests
{
    static readonly string Folder = Path.Combine(RepositoryPaths.Root, "src", "Subscriptions.Api", "Localization");

    static Dictionary<string, string> Read(string file) =>
        XDocument.Load(Path.Combine(Folder, file)).Root!.Elements("data")
            .ToDictionary(d => d.Attribute("name")!.Value, d => d.Element("value")!.Value);

    public static TheoryData<string> Translations() => [.. Languages.Supported.Where(l => l != Languages.Default).Order()];

    [Fact]
    public void Every_supported_language_has_a_resource_file_and_there_are_at_least_eight()
    {
        Assert.True(Languages.Supported.Count >= 8);
        Assert.All(Languages.Supported, l => Assert.True(File.Exists(Path.Combine(Folder, l == Languages.Default ? "Texts.resx" : $"Texts.{l}.resx")), l));
        Assert.Equal(Languages.Supported.Count, Directory.GetFiles(Folder, "Texts*.resx").Length);
    }

    [Theory]
    [MemberData(nameof(Translations))]
    public void A_translation_has_every_english_key_and_only_the_placeholders_english_has(string language)
    {
        var english = Read("Texts.resx");
        var translated = Read($"Texts.{language}.resx");

        Assert.Empty(english.Keys.Except(translated.Keys));
        Assert.Empty(translated.Keys.Except(english.Keys));
        Assert.All(translated, t =>
        {
            Assert.False(string.IsNullOrWhiteSpace(t.Value), $"{language} {t.Key} is empty");
            var extra = Placeholders(t.Value).Except(Placeholders(english[t.Key])).ToList();
            Assert.True(extra.Count == 0, $"{language} {t.Key} has placeholders English lacks: {string.Join(", ", extra)}");
            Assert.True(Placeholders(t.Value).SetEquals(Placeholders(english[t.Key])), $"{language} {t.Key} drops a placeholder English has");
        });
    }

    static HashSet<string> Placeholders(string text) => [.. Placeholder().Matches(text).Select(m => m.Value)];

    [GeneratedRegex(@"\{\d+[^}]*\}")]
    private static partial Regex Placeholder();
}
