using System.Globalization;
using System.Numerics;
using System.Text;

namespace Subscriptions.Api.Kernel;

/// <summary>
/// UTS #39's "Moderately Restrictive" level for one domain label: one script; or Latin with
/// Han and the Japanese kana, Chinese Bopomofo or Korean Hangul; or Latin with any one other
/// Recommended script (UTS #31 table 5) except Cyrillic and Greek, whose letters pass for Latin
/// ones ("paypal" with a Cyrillic р and а). Characters of script Common or Inherited (digits,
/// the hyphen, combining marks) belong to every script. The rest of UTS #39 (the identifier
/// profile, whole-script confusables such as an all-Cyrillic "аррӏе") is not applied: IDNA
/// already decides which characters a label may hold.
/// </summary>
/// <remarks>
/// .NET exposes no Unicode Script property (the runtime's ICU has one, unsurfaced), and the
/// NuGet mirror offers only ICU4N, an alpha port of ICU 60, and icu.net, a wrapper needing a
/// native ICU of its own. So this is a table of the property, kept small: only the letters,
/// marks and digits that IDNA (UTS #46 as the runtime applies it) keeps in a label, in the
/// Recommended scripts and Common. It was derived from Scripts.txt (Perl's Unicode::UCD, with
/// the Unicode 15.0 additions placed by hand) against the code points
/// <see cref="System.Globalization.IdnMapping"/> leaves unchanged; a range spans code points
/// that cannot occur in a label. A letter the table does not list is of a script outside the
/// Recommended set (Cherokee, Tifinagh, historic scripts): it may fill a label alone but mixes
/// with no listed script (two unlisted scripts are not told apart). A mark the table does not
/// list (a combining accent, of script Inherited) is ignored.
/// </remarks>
public static class DomainLabelScripts
{
    enum Script { Common, Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Thaana, Devanagari, Bengali, Gurmukhi, Gujarati,
        Oriya, Tamil, Telugu, Kannada, Malayalam, Sinhala, Thai, Lao, Tibetan, Myanmar, Georgian, Hangul, Ethiopic, Khmer,
        Hiragana, Katakana, Bopomofo, Han, Unlisted }

    readonly record struct Range(int First, int Last, Script Script);

    static readonly Range[] Ranges =
    [
        new(0x002D, 0x002D, Script.Common), new(0x0030, 0x0039, Script.Common), new(0x0041, 0x02AF, Script.Latin),
        new(0x02B9, 0x02EE, Script.Common), new(0x0371, 0x03E1, Script.Greek), new(0x03F3, 0x03FC, Script.Greek),
        new(0x0430, 0x052F, Script.Cyrillic), new(0x0559, 0x0588, Script.Armenian), new(0x0591, 0x05F2, Script.Hebrew),
        new(0x0610, 0x063F, Script.Arabic), new(0x0640, 0x0640, Script.Common), new(0x0641, 0x06FF, Script.Arabic),
        new(0x0750, 0x077F, Script.Arabic), new(0x0780, 0x07B1, Script.Thaana), new(0x0870, 0x08FF, Script.Arabic),
        new(0x0900, 0x097F, Script.Devanagari), new(0x0980, 0x09FE, Script.Bengali), new(0x0A01, 0x0A75, Script.Gurmukhi),
        new(0x0A81, 0x0AFF, Script.Gujarati), new(0x0B01, 0x0B71, Script.Oriya), new(0x0B82, 0x0BEF, Script.Tamil),
        new(0x0C00, 0x0C6F, Script.Telugu), new(0x0C80, 0x0CF3, Script.Kannada), new(0x0D00, 0x0D7F, Script.Malayalam),
        new(0x0D81, 0x0DF3, Script.Sinhala), new(0x0E01, 0x0E59, Script.Thai), new(0x0E81, 0x0EDF, Script.Lao),
        new(0x0F00, 0x0FC6, Script.Tibetan), new(0x1000, 0x109D, Script.Myanmar), new(0x10D0, 0x10FF, Script.Georgian),
        new(0x1100, 0x11FF, Script.Hangul), new(0x1200, 0x138F, Script.Ethiopic), new(0x1780, 0x17E9, Script.Khmer),
        new(0x1CE9, 0x1CFA, Script.Common), new(0x1D00, 0x1D25, Script.Latin), new(0x1D26, 0x1D2A, Script.Greek),
        new(0x1D2B, 0x1D2B, Script.Cyrillic), new(0x1D2F, 0x1EFF, Script.Latin), new(0x1F00, 0x1FF6, Script.Greek),
        new(0x214E, 0x2184, Script.Latin), new(0x2C61, 0x2C7B, Script.Latin), new(0x2D00, 0x2D2D, Script.Georgian),
        new(0x2D80, 0x2DDE, Script.Ethiopic), new(0x2DE0, 0x2DFF, Script.Cyrillic), new(0x2E2F, 0x2E2F, Script.Common),
        new(0x3005, 0x3005, Script.Han), new(0x3006, 0x3006, Script.Common), new(0x302E, 0x302F, Script.Hangul),
        new(0x3031, 0x3035, Script.Common), new(0x303B, 0x303B, Script.Han), new(0x303C, 0x303C, Script.Common),
        new(0x3041, 0x309E, Script.Hiragana), new(0x30A1, 0x30FA, Script.Katakana), new(0x30FC, 0x30FC, Script.Common),
        new(0x30FD, 0x30FE, Script.Katakana), new(0x3105, 0x31BF, Script.Bopomofo), new(0x31F0, 0x31FF, Script.Katakana),
        new(0x3400, 0x9FFF, Script.Han), new(0xA641, 0xA69F, Script.Cyrillic), new(0xA717, 0xA71F, Script.Common),
        new(0xA723, 0xA787, Script.Latin), new(0xA788, 0xA788, Script.Common), new(0xA78C, 0xA7FF, Script.Latin),
        new(0xA8E0, 0xA8FF, Script.Devanagari), new(0xA960, 0xA97C, Script.Hangul), new(0xA9CF, 0xA9CF, Script.Common),
        new(0xA9E0, 0xA9FE, Script.Myanmar), new(0xAA60, 0xAA7F, Script.Myanmar), new(0xAB01, 0xAB2E, Script.Ethiopic),
        new(0xAB30, 0xAB64, Script.Latin), new(0xAB65, 0xAB65, Script.Greek), new(0xAB66, 0xAB68, Script.Latin),
        new(0xAC00, 0xD7FB, Script.Hangul), new(0xFA0E, 0xFA29, Script.Han), new(0xFB1E, 0xFB1E, Script.Hebrew),
        new(0xFE2E, 0xFE2F, Script.Cyrillic), new(0xFE73, 0xFE73, Script.Arabic), new(0x10780, 0x10780, Script.Latin),
        new(0x16FE3, 0x16FE3, Script.Han), new(0x16FF0, 0x16FF1, Script.Han), new(0x1AFF0, 0x1B000, Script.Katakana),
        new(0x1B001, 0x1B11F, Script.Hiragana), new(0x1B120, 0x1B122, Script.Katakana), new(0x1B132, 0x1B152, Script.Hiragana),
        new(0x1B155, 0x1B167, Script.Katakana), new(0x1D242, 0x1D244, Script.Greek), new(0x1DF00, 0x1DF2A, Script.Latin),
        new(0x1E7E0, 0x1E7FE, Script.Ethiopic), new(0x20000, 0x323AF, Script.Han),
    ];

    static readonly int[] Firsts = [.. Ranges.Select(r => r.First)];

    const uint Japanese = 1u << (int)Script.Latin | 1u << (int)Script.Han | 1u << (int)Script.Hiragana | 1u << (int)Script.Katakana;
    const uint Chinese = 1u << (int)Script.Latin | 1u << (int)Script.Han | 1u << (int)Script.Bopomofo;
    const uint Korean = 1u << (int)Script.Latin | 1u << (int)Script.Han | 1u << (int)Script.Hangul;
    const uint NotWithLatin = 1u << (int)Script.Cyrillic | 1u << (int)Script.Greek | 1u << (int)Script.Unlisted;

    /// <summary>Whether a label (its Unicode form) mixes scripts no further than UTS #39 "Moderately Restrictive" allows.</summary>
    public static bool IsModeratelyRestrictive(ReadOnlySpan<char> label)
    {
        var scripts = 0u;
        foreach (var rune in label.EnumerateRunes())
        {
            if (ScriptOf(rune) is { } script and not Script.Common)
            {
                scripts |= 1u << (int)script;
            }
        }

        return BitOperations.PopCount(scripts) <= 1
            || (scripts & ~Japanese) == 0 || (scripts & ~Chinese) == 0 || (scripts & ~Korean) == 0
            || (BitOperations.PopCount(scripts) == 2 && (scripts & 1u << (int)Script.Latin) != 0 && (scripts & NotWithLatin) == 0);
    }

    /// <summary>The script of a rune as far as mixing goes; null for a mark the table does not list.</summary>
    static Script? ScriptOf(Rune rune)
    {
        var index = Array.BinarySearch(Firsts, rune.Value);
        index = index >= 0 ? index : ~index - 1;
        if (index >= 0 && rune.Value <= Ranges[index].Last)
        {
            return Ranges[index].Script;
        }

        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark
            or UnicodeCategory.EnclosingMark ? null : Script.Unlisted;
    }
}
